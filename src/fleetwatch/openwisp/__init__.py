"""Fleetwatch as OpenWISP Monitoring's time-series backend (``TIMESERIES_DATABASE["BACKEND"] =
"fleetwatch.openwisp"``): any Fleetwatch backend behind OpenWISP's ``DatabaseClient`` interface.
Needs ``pip install 'fleetwatch[openwisp]'``; see docs/openwisp.md."""
