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


def _gunicorn_command(args) -> list[str]:
    # gunicorn, not runserver: the same server as production, threads for slow clients.
    return [
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
        "-" if args.access_log else "/dev/null",
        "--log-level",
        "warning",
        "--no-control-socket",
    ]


def serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fleetwatch serve", description="Migrate, then serve.")
    parser.add_argument("--bind", default=os.environ.get("FLEETWATCH_BIND", "127.0.0.1:8000"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("FLEETWATCH_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("FLEETWATCH_THREADS", "4")))
    parser.add_argument("--no-migrate", action="store_true")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also create a demo organization and login, and run a simulated fleet against this server",
    )
    args = parser.parse_args(argv)
    _setup_django()
    from django.core.management import call_command

    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not args.demo:
        os.execvp(sys.executable, _gunicorn_command(args))
    return _serve_demo(args)


def _serve_demo(args) -> int:
    """Serve, print the login, back-fill a day of a simulated fleet, then keep it reporting."""
    import secrets
    import subprocess
    import time
    import urllib.request

    from django.conf import settings
    from django.core.management import call_command

    password_file = settings.DATA_DIR / "demo-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(9))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    call_command("org", "create", "--name", "Demo", "--slug", "demo", stdout=open(os.devnull, "w"))
    call_command(
        "user",
        "create",
        "--username",
        "demo",
        "--password",
        password,
        "--org",
        "demo",
        "--role",
        "admin",
        stdout=open(os.devnull, "w"),
    )
    url = f"http://{args.bind}"
    server = subprocess.Popen(_gunicorn_command(args))
    children = [server]
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health/", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        print(f"\n  Fleetwatch is running: {url}/\n  Log in as: demo / {password}\n", flush=True)
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fleetwatch",
                    "simulate",
                    "--devices",
                    os.environ.get("FLEETWATCH_DEMO_DEVICES", "8"),
                    "--days",
                    os.environ.get("FLEETWATCH_DEMO_DAYS", "1"),
                    "--org",
                    "demo",
                    "--url",
                    url,
                    "--live",
                ]
            )
        )
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            child.wait(timeout=30)


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
