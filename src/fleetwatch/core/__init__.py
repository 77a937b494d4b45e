"""Shared Django-side helpers: settings parsing, the time-series connection."""
