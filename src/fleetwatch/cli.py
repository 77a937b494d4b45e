"""The ``fleetwatch`` command.

``fleetwatch version``, ``fleetwatch serve`` and ``fleetwatch worker`` are handled here (the
worker runs ``fleetwatch consume`` beside Celery when device channels are configured); every
other command is a Django management command (``fleetwatch migrate``, ``fleetwatch check --deploy`` …).

Every command but ``version`` loads the settings first: a setting that cannot be used ends the
command at once with its message on stderr (naming the variable) and exit status 2, not with a
traceback from deep inside Django. ``serve`` and ``worker`` then run the system checks
(fleetwatch.core.checks): an error there ends them the same way, before anything starts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time

EXIT_SETTINGS = 2  # a setting cannot be used (like a usage error: nothing was started)


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetwatch.settings")
    import django

    django.setup()


def _system_checks() -> None:
    """Django's and Fleetwatch's system checks (offline, fleetwatch.core.checks), before a server
    or worker starts: warnings are printed, errors raise SystemCheckError."""
    from django.core.management.base import BaseCommand

    BaseCommand().check()


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


def _stop(children: list[subprocess.Popen]) -> None:
    """Terminate the children still running, last started first, and wait for each (30 s)."""
    for child in reversed(children):
        if child.poll() is None:
            child.terminate()
    for child in children:
        child.wait(timeout=30)


def _supervise(
    server: subprocess.Popen,
    children: list[subprocess.Popen],
    command: list[str] | None = None,
    what: str = "worker",
) -> int:
    """Wait for the web server; start the worker again if it stops (checks and alerts would
    otherwise stop silently while the pages go on working), at most every 10 seconds.

    ``command``/``what``: another second process so kept going (``fleetwatch worker`` keeps the
    device channels' consumer beside Celery this way)."""
    worker, started = children[1], time.monotonic()
    while True:
        code = server.poll()
        if code is not None:
            return code
        if worker.poll() is not None and time.monotonic() - started >= 10:
            print(
                f"  the {what} stopped (exit {worker.returncode}); starting it again",
                file=sys.stderr,
                flush=True,
            )
            worker, started = (
                subprocess.Popen(command or _worker_command(concurrency=1), stdout=subprocess.DEVNULL),
                time.monotonic(),
            )
            children.append(worker)
        time.sleep(1)


def serve(argv: list[str]) -> int:
    _setup_django()
    from django.conf import settings

    parser = argparse.ArgumentParser(prog="fleetwatch serve", description="Migrate, then serve.")
    parser.add_argument("--bind", default=settings.FLEETWATCH_BIND)
    parser.add_argument("--workers", type=int, default=settings.FLEETWATCH_WORKERS)
    parser.add_argument("--threads", type=int, default=settings.FLEETWATCH_THREADS)
    parser.add_argument("--no-migrate", action="store_true")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also create a demo organization and login, and run a simulated fleet against this server",
    )
    args = parser.parse_args(argv)
    from django.core.management import call_command

    if args.demo:
        # The demo reports no usage metrics of its own (docs/usage-metrics.md): off here, before
        # its migrate would queue an Install, and in every process it starts.
        os.environ.update(FLEETWATCH_USAGE_METRICS="false")  # a write: settings.py alone reads it
        settings.FLEETWATCH_USAGE_METRICS = False
    # The web processes and the worker started here load the settings afresh: with the bind
    # address in their environment, links follow it unless FLEETWATCH_BASE_URL is set.
    os.environ.update(FLEETWATCH_BIND=args.bind)  # a write: settings.py alone reads the variables
    _system_checks()
    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    from fleetwatch.core.instrumentation import prune_dead

    prune_dead()  # GET /metrics' files of processes of an earlier run (docs/prometheus.md)
    if not args.demo:
        os.execvp(sys.executable, _gunicorn_command(args))
    return _serve_demo(args)


def _serve_demo(args) -> int:
    """Serve, print the login, back-fill a day of a simulated fleet, then keep it reporting."""
    import secrets
    import urllib.request

    from django.conf import settings
    from django.core.management import call_command

    password_file = settings.DATA_DIR / "demo-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(9))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    call_command("org", "create", "--name", "Demo", "--slug", "demo", stdout=open(os.devnull, "w"))
    _demo_login(password)
    url = f"http://{args.bind}"
    # A demo shows checks and alerts within minutes: checks every minute, no tolerance.
    os.environ.setdefault("FLEETWATCH_CHECK_INTERVAL", "60")
    os.environ.setdefault("FLEETWATCH_ALERT_TOLERANCE", "0")
    # The demo is a usage-metrics collector, its pages filled with a simulated population
    # (usage/collector/demo.py); it sends no usage metrics of its own.
    os.environ.setdefault("FLEETWATCH_USAGE_COLLECTOR", "true")
    webhook = settings.FLEETWATCH_DEMO_WEBHOOK
    if webhook:
        # The demo's receiver is usually on this machine (server and worker read this).
        os.environ.setdefault("FLEETWATCH_WEBHOOK_ALLOW_PRIVATE", "true")
        from fleetwatch.inventory.models import Organization
        from fleetwatch.notifications.models import Webhook

        Webhook.objects.get_or_create(
            organization=Organization.objects.get(slug="demo"), name="demo", defaults={"url": webhook}
        )
    server = subprocess.Popen(_gunicorn_command(args))
    # Checks, alerts and notifications: the worker and its schedule, on the embedded broker.
    children = [server, subprocess.Popen(_worker_command(concurrency=1), stdout=subprocess.DEVNULL)]
    usage = threading.Thread(target=_demo_usage, name="usage-demo", daemon=True)
    usage.start()
    try:
        # The backup matrix with 30 days of history and three problems (backups/demo.py),
        # written while the server starts (under a second), before the login is printed.
        from fleetwatch.backups import demo as backups_demo
        from fleetwatch.inventory.models import Organization
        from fleetwatch.usage.collector import demo as usage_demo

        backups_demo.build(Organization.objects.get(slug="demo"))
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/v1/health/", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        print(f"\n  Fleetwatch is running: {url}/\n  Log in as: demo / {password}\n", flush=True)
        print(
            f"  A usage-metrics collector too ({url}/usage/): {usage_demo.INSTANCES} simulated deployments "
            f"over {usage_demo.DAYS} days, filled in the background within a minute\n",
            flush=True,
        )
        children.extend(_demo_agent(url))
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fleetwatch",
                    "simulate",
                    "--devices",
                    str(settings.FLEETWATCH_DEMO_DEVICES),
                    "--days",
                    str(settings.FLEETWATCH_DEMO_DAYS),
                    "--org",
                    "demo",
                    "--url",
                    url,
                    "--live",
                    "--silent-minutes",
                    "90",
                    "--back-after",
                    str(settings.FLEETWATCH_DEMO_BACK_AFTER),
                    "--waiting",
                    "1",
                ]
            )
        )
        return _supervise(server, children)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)


def _demo_usage() -> None:
    """The collector's demo population (usage/collector/demo.py), in a thread: it takes seconds to compute
    and holds the database only for its short final write."""
    from django.db import connection

    from fleetwatch.usage.collector import demo

    try:
        demo.build()
    except Exception as exc:  # the rest of the demo goes on without it
        print(f"  the usage-metrics demo could not be filled: {exc!r}", file=sys.stderr, flush=True)
    finally:
        connection.close()


def _demo_agent(url: str) -> list[subprocess.Popen]:
    """This machine as a demo device: fleetwatch-agent reporting to the demo (if installed)."""
    from fleetwatch.inventory.models import Organization
    from fleetwatch.monitoring import demo_agent

    if not demo_agent.available():
        print("  fleetwatch-agent is not installed (make installs it): no real host in the demo", flush=True)
        return []
    device, config = demo_agent.prepare(Organization.objects.get(slug="demo"), url, demo_agent.folder())
    # Its log beside its configuration: a refused report or command is explained there.
    log = config.parent / "agent.log"
    print(
        f"  This machine reports as {device.name!r} through fleetwatch-agent, remote commands ENABLED "
        f"(demo only: {config}; its log: {log})\n",
        flush=True,
    )
    with log.open("ab") as output:
        return [subprocess.Popen(demo_agent.command(config), stdout=output, stderr=subprocess.STDOUT)]


def _demo_login(password: str) -> None:
    """The ``demo`` user, administrator of the ``demo`` organization, with the printed password,
    and a superuser (the usage-metrics collector's pages are for superusers only).
    Its password is set only when it does not match (first start, or the password file was
    replaced): ``user create`` refuses existing users, and setting it again would end sessions."""
    from django.contrib.auth import get_user_model

    from fleetwatch.inventory.models import Membership, Organization, Role

    user, created = get_user_model().objects.get_or_create(username="demo")
    changed = not user.is_superuser
    user.is_superuser = True
    if created or not user.check_password(password):
        user.set_password(password)
        changed = True
    if changed:
        user.save()
    Membership.objects.update_or_create(
        user=user, organization=Organization.objects.get(slug="demo"), defaults={"role": Role.ADMIN}
    )


def _worker_command(concurrency: int | None = None, beat: bool = True) -> list[str]:
    from django.conf import settings

    command = [sys.executable, "-m", "celery", "-A", "fleetwatch.celery", "worker", "--loglevel", "INFO"]
    command += ["--concurrency", str(concurrency or settings.FLEETWATCH_WORKER_CONCURRENCY)]
    if beat:
        # beat (the schedule of checks and retention) runs inside the worker: one command
        command += ["--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule")]
    return command


def worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fleetwatch worker",
        description="Run background work (checks, alerts, notifications) and its schedule.",
    )
    parser.add_argument(
        "--concurrency", type=int, help="worker processes (default: FLEETWATCH_WORKER_CONCURRENCY, 2)"
    )
    parser.add_argument("--no-beat", action="store_true", help="no schedule here (another worker runs it)")
    args = parser.parse_args(argv)
    _setup_django()
    _system_checks()
    from django.conf import settings

    command = _worker_command(args.concurrency, beat=not args.no_beat)
    if not settings.FLEETWATCH_CHANNELS_BROKER_URL:
        os.execvp(sys.executable, command)
    return _worker_with_consumer(command)


def _consumer_command() -> list[str]:
    return [sys.executable, "-m", "fleetwatch", "consume"]


def _worker_with_consumer(command: list[str]) -> int:
    """Celery and, beside it, the device channels' consumer (``fleetwatch consume``), started
    again when it stops; SIGTERM/SIGINT stop both. Returns Celery's exit status."""
    import signal

    celery = subprocess.Popen(command)
    children = [celery, subprocess.Popen(_consumer_command())]

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return _supervise(celery, children, command=_consumer_command(), what="consumer")
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)


def main(argv: list[str] | None = None) -> int:
    """Run one ``fleetwatch`` command; returns its exit status (2: a setting cannot be used)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "help"
    if command in ("version", "--version"):
        from fleetwatch import __version__

        print(__version__)
        return 0
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management.base import SystemCheckError

    try:
        if command == "serve":
            return serve(argv[1:])
        if command == "worker":
            return worker(argv[1:])
        # Django's command runner would hide a settings error (it runs on without the apps and
        # fails later with a traceback): load the settings here first.
        _setup_django()
    except ImproperlyConfigured as exc:
        print(f"fleetwatch: configuration error: {exc}", file=sys.stderr)
        return EXIT_SETTINGS
    except SystemCheckError as exc:
        print(exc, file=sys.stderr)  # "SystemCheckError: …" and each issue with its id
        return EXIT_SETTINGS
    from django.core.management import execute_from_command_line

    execute_from_command_line(["fleetwatch", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
