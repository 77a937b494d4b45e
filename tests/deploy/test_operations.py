"""The operations docs' examples, run as written (docs/operations.md): the upgrade's migration
check, the SQLite default's backup and restore, and deploy/nginx/fleetwatch.conf checked by
Debian's ``nginx -t`` (installed by scripts/deploy/nginx.sh when absent; a failed install fails)."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.server import free_port

from fleetwatch.timeseries import load_backend
from fleetwatch.timeseries.model import Point, ReadQuery
from tests.test_cli_settings import DOCS, ROOT, doc_block

OPERATIONS = DOCS / "operations.md"


def commands(block: str) -> list[str]:
    """The command lines of a docs block (comments after ``#`` and blank lines dropped)."""
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def shell(line: str, cwd, env: dict) -> subprocess.CompletedProcess:
    """One docs line in bash, ``fleetwatch`` being this checkout's (``python -m fleetwatch.cli``)."""
    fleetwatch = f'fleetwatch() {{ "{sys.executable}" -m fleetwatch.cli "$@"; }}\n'
    return subprocess.run(
        ["bash", "-c", fleetwatch + line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def clean_env(tmp_path):
    """Only what ``fleetwatch`` needs: this checkout on the path and a data dir of its own."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT / "src"),
        "HOME": str(tmp_path),
        "FLEETWATCH_DATA_DIR": str(tmp_path / "var"),
    }


def test_the_upgrades_migration_check(tmp_path, clean_env):
    lines = commands(doc_block(OPERATIONS, "## Upgrading"))
    assert lines == [
        "fleetwatch migrate --check",
        "fleetwatch migrate",
        "fleetwatch migrate --check",
        "fleetwatch makemigrations --check --dry-run",
    ]
    done = [shell(line, tmp_path, clean_env) for line in lines]
    assert [d.returncode for d in done] == [1, 0, 0, 0], [d.stderr[-2000:] for d in done]
    assert done[3].stdout == "No changes detected\n"


def sqlite3_cli() -> str:
    """Debian's sqlite3, installed through scripts/services/lib.sh when absent."""
    if not shutil.which("sqlite3"):
        install = subprocess.run(
            ["bash", "-c", "SERVICE_NAME=tools; source scripts/services/lib.sh; apt_install sqlite3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert install.returncode == 0, f"apt-get install sqlite3 failed:\n{install.stderr[-3000:]}"
    return shutil.which("sqlite3")


def organizations(tmp_path, env) -> str:
    code = "from fleetwatch.inventory.models import Organization as O; print(sorted(O.objects.values_list('slug', flat=True)))"
    done = shell(f'fleetwatch shell -c "{code}"', tmp_path, env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()[-1]


def test_backing_up_and_restoring_the_sqlite_default(tmp_path, clean_env):
    assert sqlite3_cli()
    backup = commands(doc_block(OPERATIONS, "## Backing up and restoring", 0))
    restore = commands(doc_block(OPERATIONS, "## Backing up and restoring", 1))
    copy = commands(doc_block(OPERATIONS, "## Backing up and restoring", 2))
    var = tmp_path / "var"
    env = {**clean_env, "FLEETWATCH_TIMESERIES": f"sqlite:///{var / 'timeseries.sqlite3'}"}

    # A data dir with an organization and a point.
    assert shell("fleetwatch migrate", tmp_path, env).returncode == 0
    created = shell("fleetwatch org create --name Kept --slug kept", tmp_path, env)
    assert created.returncode == 0, created.stderr
    moment = datetime.now(UTC).replace(microsecond=0)
    store = load_backend(env["FLEETWATCH_TIMESERIES"])
    assert store.write([Point("ping", {"rtt": 12.5}, moment, {"device": "router-1"})]) == 1
    store.close()
    key = (var / "secret_key").read_text()

    for line in backup:
        done = shell(line, tmp_path, env)
        assert (done.returncode, done.stderr) == (0, ""), line
    (line,) = copy
    done = shell(line, tmp_path, env)  # its progress goes to stderr
    assert done.returncode == 0, done.stderr[-2000:]

    # Then changes the backup must undo: another organization, the point gone, another key.
    assert shell("fleetwatch org create --name Other --slug other", tmp_path, env).returncode == 0
    assert organizations(tmp_path, env) == "['kept', 'other']"
    store = load_backend(env["FLEETWATCH_TIMESERIES"])
    store.delete("ping")
    assert store.read(ReadQuery("ping")) == []
    store.close()
    (var / "secret_key").write_text("another key")

    for line in restore:
        done = shell(line, tmp_path, env)
        assert (done.returncode, done.stderr) == (0, ""), line

    assert organizations(tmp_path, env) == "['kept']"
    assert (var / "secret_key").read_text() == key
    for url in (
        env["FLEETWATCH_TIMESERIES"],
        f"sqlite:///{tmp_path / 'backup' / 'timeseries.sqlite3'}",
        f"sqlite:///{tmp_path / 'backup' / 'timeseries-copy.sqlite3'}",
    ):
        store = load_backend(url)
        rows = store.read(ReadQuery("ping"))
        store.close()
        assert [(row.time, row.tags, row.fields) for row in rows] == [
            (moment, {"device": "router-1"}, {"rtt": 12.5})
        ]


def nginx_binary() -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "deploy" / "nginx.sh")], capture_output=True, text=True
    )
    assert done.returncode == 0, f"scripts/deploy/nginx.sh failed:\n{done.stderr[-3000:]}"
    return done.stdout.splitlines()[-1]


def nginx_command(nginx: str, prefix: Path, *more: str) -> list[str]:
    """The command running ``nginx`` with all of its files under ``prefix`` (its prefix, error
    log and ``prefix/nginx.conf``), then ``more`` arguments (``-t``, ``-g "daemon off;"``)."""
    files = ["-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")]
    return [nginx, *files, *more]


def test_the_nginx_site_passes_nginx_t(tmp_path):
    nginx = nginx_binary()
    site = (ROOT / "deploy" / "nginx" / "fleetwatch.conf").read_text()
    cert, key = "/etc/ssl/certs/fleetwatch.example.org.pem", "/etc/ssl/private/fleetwatch.example.org.key"
    assert site.count(cert) == 1
    assert site.count(key) == 1
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=fleetwatch.example.org",
         "-keyout", str(tmp_path / "site.key"), "-out", str(tmp_path / "site.pem")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    ours = site.replace(cert, str(tmp_path / "site.pem")).replace(key, str(tmp_path / "site.key"))
    (tmp_path / "fleetwatch.conf").write_text(ours)
    # The http block of a stock nginx.conf, with its files in the temporary directory.
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {tmp_path}/access.log;\n"
        f"    include {tmp_path}/fleetwatch.conf;\n"
        "}\n"
    )
    checked = subprocess.run(nginx_command(nginx, tmp_path, "-t"), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.splitlines()[-1] == (
        f"nginx: configuration file {tmp_path}/nginx.conf test is successful"
    )

    # A broken site fails the same check (the check can fail).
    (tmp_path / "fleetwatch.conf").write_text(
        ours.replace("proxy_pass http://fleetwatch;", "proxy_pass http://nowhere;")
    )
    broken = subprocess.run(nginx_command(nginx, tmp_path, "-t"), capture_output=True, text=True)
    assert broken.returncode == 1
    assert "[emerg] host not found in upstream" in broken.stderr


def request(port: int, path: str, headers: dict | None = None, tls: ssl.SSLContext | None = None):
    """(status, headers, body) of a GET to 127.0.0.1:port, as fleetwatch.example.org."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=tls)
        conn.sock = tls.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=30),
            server_hostname="fleetwatch.example.org",
        )
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "fleetwatch.example.org", **(headers or {})})
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def test_nginx_serves_fleetwatch_over_tls(tmp_path, clean_env):
    """The site for real: nginx on two ports of this test's range in front of ``fleetwatch serve``
    with the proxy settings of the docs and HTTPS redirects on: through nginx's TLS the health
    check answers 200 (Django saw HTTPS from X-Forwarded-Proto, even when the client sends
    ``http`` itself); plain HTTP to nginx and to Fleetwatch directly is redirected."""
    nginx = nginx_binary()
    http_port, https_port, app_port = (free_port(range(first, 18860)) for first in (18850, 18853, 18856))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=fleetwatch.example.org",
         "-addext", "subjectAltName=DNS:fleetwatch.example.org",
         "-keyout", str(tmp_path / "site.key"), "-out", str(tmp_path / "site.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    site = (ROOT / "deploy" / "nginx" / "fleetwatch.conf").read_text()
    for old, new in [
        ("/etc/ssl/certs/fleetwatch.example.org.pem", str(tmp_path / "site.pem")),
        ("/etc/ssl/private/fleetwatch.example.org.key", str(tmp_path / "site.key")),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("    listen [::]:80;\n", ""),
        ("    listen [::]:443 ssl http2;\n", ""),
    ]:
        assert site.count(old) == 1, old
        site = site.replace(old, new)
    (tmp_path / "fleetwatch.conf").write_text(site)
    temp = "".join(
        f"    {kind}_temp_path {tmp_path}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log {tmp_path}/access.log;\n{temp}    include {tmp_path}/fleetwatch.conf;\n}}\n"
    )
    env = {
        **clean_env,
        "FLEETWATCH_ALLOWED_HOSTS": "fleetwatch.example.org",
        "FLEETWATCH_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        "FLEETWATCH_SSL_REDIRECT": "true",
        "FLEETWATCH_SECURE_COOKIES": "true",
    }
    app = nginx_process = None
    try:
        app = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleetwatch.cli",
                "serve",
                "--bind",
                f"127.0.0.1:{app_port}",
                "--workers",
                "1",
            ],
            cwd=tmp_path,
            env=env,
            stdout=open(tmp_path / "serve.log", "wb"),
            stderr=subprocess.STDOUT,
        )
        nginx_process = subprocess.Popen(
            nginx_command(nginx, tmp_path, "-g", "daemon off;"), stderr=subprocess.PIPE
        )
        tls = ssl.create_default_context(cafile=str(tmp_path / "site.pem"))
        for _ in range(600):  # up to a minute: serve migrates and collects static files first
            assert app.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert nginx_process.poll() is None, nginx_process.stderr.read().decode()
            try:
                status, _, _ = request(https_port, "/api/v1/health/", tls=tls)
            except OSError:
                status = None
            if status not in (None, 502):
                break
            time.sleep(0.1)  # polling a starting server, not waiting for time to pass
        assert request(https_port, "/api/v1/health/", tls=tls)[0] == 200
        assert request(https_port, "/api/v1/health/", {"X-Forwarded-Proto": "http"}, tls)[0] == 200
        status, headers, _ = request(http_port, "/api/v1/health/?a=1")
        assert (status, headers["Location"]) == (301, "https://fleetwatch.example.org/api/v1/health/?a=1")
        status, headers, _ = request(app_port, "/api/v1/health/")
        assert (status, headers["Location"]) == (301, "https://fleetwatch.example.org/api/v1/health/")
    finally:
        for process in (nginx_process, app):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
