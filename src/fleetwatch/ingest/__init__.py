"""Payload parsers: pure functions from what agents send to points (no storage, no Django)."""
