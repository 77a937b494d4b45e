"""The ``fleetwatch`` command.

``fleetwatch --help`` (and ``fleetwatch`` alone) lists Fleetwatch's commands by group
(:mod:`fleetwatch.commands`). ``serve``, ``worker`` (it runs ``fleetwatch consume`` beside Celery
when device channels are configured), ``demo-login``, ``completion`` and ``manage`` (Django's own
commands: ``fleetwatch manage migrate``) are handled here; every other command is a management
command of one of Fleetwatch's apps (``fleetwatch device create …``, ``fleetwatch check --deploy``).
Django's commands given without ``manage`` (``fleetwatch migrate``) still run, unlisted; an
unknown command is refused with the nearest name. Exit status: 0 done, 1 failed, 2 usage error.

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
EXIT_FAILED = 1
EXIT_USAGE = 2


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

    parser = _serve_parser()
    args = _parse(parser, argv)
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
    """Serve, back-fill a day of a simulated fleet, print the login (last), then keep the fleet
    reporting."""
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
    _explain_root()
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
        (settings.DATA_DIR / "demo-url").write_text(url)
        children.extend(_demo_agent(url))
        simulator = subprocess.Popen(
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
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(simulator)
        _await_backfill(simulator)
        print(
            f"  A usage-metrics collector too ({url}/usage/): {usage_demo.INSTANCES} simulated deployments "
            f"over {usage_demo.DAYS} days, filled in the background within a minute",
            flush=True,
        )
        # Last, after the start-up's lines: what a newcomer needs (again: `fleetwatch demo-login`).
        print(_login_text(url, password), flush=True)
        return _supervise(server, children)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)


def _await_backfill(simulator: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the simulator has back-filled its day of reports (its line "done in …") or
    stopped, at most ``timeout`` seconds (on a busy machine the back-fill takes minutes: the login
    is not held back that long); its lines are read and dropped in a thread (the console shows
    the devices' health changes instead)."""
    done = threading.Event()

    def read() -> None:
        for line in simulator.stdout:
            if line.startswith("done in"):
                done.set()
        done.set()

    threading.Thread(target=read, name="simulator-output", daemon=True).start()
    done.wait(timeout)


def _login_text(url: str, password: str) -> str:
    """The demo's address and login, as ``make run`` ends and ``fleetwatch demo-login`` prints them."""
    return f"\n  Fleetwatch is running: {url}/\n  Log in as: demo / {password}\n"


def demo_login(argv: list[str]) -> int:
    """``fleetwatch demo-login``: the running demo's address and login again (1: no demo here)."""
    parser = _parser("demo-login", "Print the address and login of the demo that `make run` started.")
    _parse(parser, argv)
    from django.conf import settings

    password_file, url_file = settings.DATA_DIR / "demo-password", settings.DATA_DIR / "demo-url"
    if not password_file.exists() or not url_file.exists():
        print(
            f"fleetwatch: no demo in {settings.DATA_DIR}: `make run` (fleetwatch serve --demo) starts one",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(_login_text(url_file.read_text().strip(), password_file.read_text().strip()))
    return 0


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

    # Logging follows settings.LOGGING (fleetwatch.celery): no --loglevel; --quiet: no banner.
    command = [sys.executable, *_root_warning_filter(), "-m", "celery", "--quiet", "-A", "fleetwatch.celery"]
    command += ["worker", "--concurrency", str(concurrency or settings.FLEETWATCH_WORKER_CONCURRENCY)]
    if beat:
        # beat (the schedule of checks and retention) runs inside the worker: one command
        command += ["--beat", "--schedule", str(settings.DATA_DIR / "celerybeat-schedule")]
    return command


# Celery's warning when its worker runs as root (celery.platforms.ROOT_DISCOURAGED), as -W matches it.
ROOT_WARNING = "You're running the worker with superuser privileges"


def _root_warning_filter() -> list[str]:
    """Python's ``-W`` option that silences Celery's root warning, when running as root (see
    :func:`_explain_root`): it accepts JSON messages only, so being root is no reason to refuse."""
    if os.geteuid() != 0:
        return []
    return ["-W", f"ignore:{ROOT_WARNING}"]


def _explain_root() -> None:
    """One line instead of Celery's warning, when the worker runs as root (``make run`` in a
    container, a root shell): the documented deployments (the container image, the Ansible role)
    run it as an unprivileged user, so only these print it."""
    if os.geteuid() == 0:
        print(
            "  The worker runs as root: Celery accepts JSON messages only here (never pickle), so a "
            "message cannot run code; in production run it as its own user (docs/cli.md)",
            file=sys.stderr,
            flush=True,
        )


def _parser(name: str, description: str) -> argparse.ArgumentParser:
    """The parser of a command built in here (its help made as every command's by :func:`_parse`)."""
    return argparse.ArgumentParser(prog=f"fleetwatch {name}", description=description)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed, ``--help`` saying each option's default and the command's example."""
    from fleetwatch import commands

    name = parser.prog.split()[-1]
    entry = next(e for e in commands.BUILTINS if e.name == name)
    return commands.annotate(parser, entry.example).parse_args(argv)


def worker(argv: list[str]) -> int:
    parser = _worker_parser()
    args = _parse(parser, argv)
    _setup_django()
    _system_checks()
    from django.conf import settings

    _explain_root()
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


def completion(argv: list[str]) -> int:
    """``fleetwatch completion bash|zsh``: the completion script of the commands listed now."""
    from fleetwatch import commands

    parser = _parser("completion", "Print a completion script for bash or zsh (see docs/cli.md).")
    parser.add_argument("shell", choices=["bash", "zsh"])
    args = _parse(parser, argv)
    listed = commands.entries()
    parsers = {}
    for entry in listed:
        if entry.app:
            parsers[entry.name] = commands.load(entry.name, entry.app).create_parser("fleetwatch", entry.name)
        elif entry.name in BUILTIN_PARSERS:
            parsers[entry.name] = BUILTIN_PARSERS[entry.name]()
    table = commands.completion_table(parsers)
    script = commands.bash_script if args.shell == "bash" else commands.zsh_script
    sys.stdout.write(script(listed, table, commands.django_commands()))
    return 0


def _serve_parser() -> argparse.ArgumentParser:
    """serve's arguments (the settings loaded: they are its defaults)."""
    from django.conf import settings

    parser = _parser("serve", "Migrate the database, then serve the web pages and the API (gunicorn).")
    parser.add_argument("--bind", default=settings.FLEETWATCH_BIND, help="address:port (FLEETWATCH_BIND)")
    parser.add_argument(
        "--workers", type=int, default=settings.FLEETWATCH_WORKERS, help="processes (FLEETWATCH_WORKERS)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=settings.FLEETWATCH_THREADS,
        help="threads per process (FLEETWATCH_THREADS)",
    )
    parser.add_argument("--no-migrate", action="store_true", help="do not migrate the database first")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also create a demo organization and login, and run a simulated fleet against this server",
    )
    return parser


def _worker_parser() -> argparse.ArgumentParser:
    """worker's arguments."""
    parser = _parser("worker", "Run background work (checks, alerts, notifications) and its schedule.")
    parser.add_argument(
        "--concurrency", type=int, help="worker processes (default: FLEETWATCH_WORKER_CONCURRENCY, 2)"
    )
    parser.add_argument("--no-beat", action="store_true", help="no schedule here (another worker runs it)")
    return parser


BUILTIN_PARSERS = {"serve": _serve_parser, "worker": _worker_parser}


def _unknown(command: str) -> int:
    """An unknown command: its nearest name, exit status 2."""
    from fleetwatch import commands

    names = [e.name for e in commands.BUILTINS] + list(commands.fleetwatch_commands())
    guess = commands.nearest(command, names) or commands.nearest(command, commands.django_commands())
    if guess and guess not in names:
        guess = f"manage {guess}"
    hint = f" Did you mean `fleetwatch {guess}`?" if guess else ""
    print(
        f"fleetwatch: unknown command {command!r}.{hint} `fleetwatch --help` lists the commands.",
        file=sys.stderr,
    )
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run one ``fleetwatch`` command; returns its exit status: 0 done, 1 failed, 2 a usage error
    (an unknown command or argument, a setting that cannot be used). A management command ends
    the process itself on an error (``sys.exit``: 1 for its ``CommandError``, 2 for a bad argument)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "--help"
    if command in ("version", "--version"):
        from fleetwatch import __version__

        print(__version__)
        return 0
    if command == "help" and len(argv) > 1:  # `fleetwatch help device` as `fleetwatch device --help`
        return main([argv[1], "--help"])
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

    from fleetwatch import __version__, commands

    if command in ("-h", "--help", "help"):
        sys.stdout.write(commands.top_level_help(__version__))
        return 0
    if command == "demo-login":
        return demo_login(argv[1:])
    if command == "completion":
        return completion(argv[1:])
    if command == "manage":
        execute_from_command_line(["fleetwatch manage", *argv[1:]])
        return 0
    ours = commands.fleetwatch_commands()
    if command in ours:
        loaded = commands.load(command, ours[command])
        commands.friendly(loaded, commands.example_of(loaded)).run_from_argv(["fleetwatch", *argv])
        return 0
    if command in commands.django_commands():
        # Django's own, as before `manage` (deployment scripts run `fleetwatch migrate`): unlisted.
        execute_from_command_line(["fleetwatch", *argv])
        return 0
    return _unknown(command)


if __name__ == "__main__":
    sys.exit(main())
