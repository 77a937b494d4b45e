"""The shared REST layer; each app keeps its own views under ``<app>/api/``."""
