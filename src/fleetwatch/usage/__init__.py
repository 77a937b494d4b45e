"""Anonymous usage metrics: Fleetwatch reporting about itself with consent (``sender/``), and the
collector that answers how many deployments exist, survive and upgrade (``collector/``).

Both speak the Clean Insights payload (``payload.py``; reference usage-metrics C.5, C.9)."""
