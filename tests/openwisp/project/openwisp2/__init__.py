"""Django test project that runs OpenWISP Monitoring 1.3's shipped test suite.

Named ``openwisp2`` like upstream's own test project. See settings.py for the environment it reads.
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
