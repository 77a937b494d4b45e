"""The ``fleetwatch`` command.

``fleetwatch version`` and ``fleetwatch serve`` are handled here; every other command is a
Django management command (``fleetwatch migrate``, ``fleetwatch createsuperuser`` …).
"""

from __future__ import annotations

import argparse
import os
import sys


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    import django

    django.setup()


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fleetwatch serve", description="Migrate, then serve.")
    parser.add_argument("--bind", default=os.environ.get("FLEETWATCH_BIND", "127.0.0.1:8000"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FLEETWATCH_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("FLEETWATCH_THREADS", "4")))
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)
    _setup_django()
    from django.core.management import call_command

    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    # gunicorn, not runserver: the same server as production, threads for slow clients.
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "fleetwatch.wsgi:application",
            "--bind",
            args.bind,
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
            "--log-level",
            "info",
        ],
    )
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "help"
    if command in ("version", "--version"):
        from fleetwatch import __version__

        print(__version__)
        return 0
    if command == "serve":
        return serve(argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["fleetwatch", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
