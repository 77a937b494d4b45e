"""The backups app's REST API (``/api/v1/backups/``)."""
