"""Metrics and charts of devices, ingestion of agent reports, the chart API."""
