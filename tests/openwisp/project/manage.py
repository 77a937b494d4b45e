#!/usr/bin/env python
"""Django's command line for the OpenWISP Monitoring test project (run by scripts/openwisp/run.sh)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openwisp2.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
