"""Fleetwatch: self-hosted monitoring for fleets of devices, servers, sensors and backup jobs."""

__version__ = "0.1.0"
