"""Registration against a live server (gunicorn, as deployed) with real curl: the OpenWrt config
agent's exchange as its shell script performs it (the same curl options, and the same header,
status and value checks with grep, head, tail, awk and md5sum), then the monitoring agent's first
report with the UUID and key it got; and every ``sh`` example of docs/registration.md, as written.

The agent itself (openwisp-config's ``openwisp.agent``) is not run: it needs an OpenWrt system
(uci, ubus, procd's hotplug, ``/usr/sbin/openwisp-*`` helpers in Lua with luci libraries) and
applies what it downloads to ``/etc/config``; its steps are reproduced command for command.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from bench.server import Server, free_port

from tests.ingest.payloads import example_report

PORTS = range(18600, 18650)  # the registration suite's live-server ports
SECRET = "0123456789abcdef0123456789abcdef"
DOCS = Path(__file__).parents[2] / "docs" / "registration.md"

SETUP = f"""
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from fleetwatch.inventory.models import Membership, Organization

org = Organization.objects.create(name="Field", slug="field", registration_secret="{SECRET}")
admin = get_user_model().objects.create_user("ops", password="unused-ops")
Membership.objects.create(user=admin, organization=org, role="admin")
print(json.dumps({{"organization": str(org.pk), "admin": Token.objects.create(user=admin).key}}))
"""


@pytest.fixture(scope="module")
def live():
    server = Server(port=free_port(PORTS), workers=1, threads=4, log="gunicorn.log")
    server.env.pop("FLEETWATCH_TIMESERIES", None)
    server.env.pop("FLEETWATCH_DATABASE", None)
    for name in list(server.env):
        if name.startswith("FLEETWATCH_CHANNELS_"):
            del server.env[name]  # device channels off: "broker": null
    server.start()
    try:
        created = json.loads(server.manage("shell", "-c", SETUP).strip().splitlines()[-1])
        server.organization, server.admin = created["organization"], created["admin"]
        yield server
    finally:
        server.stop()
    log = Path(server.dir, "gunicorn.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-5000:]


def sh(script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# The agent's steps (openwisp-config's register, get_checksum, update_configuration,
# update_info, report_status), with its curl options, in a scratch directory ($WORK).
AGENT = r"""
FETCH="curl -s --connect-timeout 15 --max-time 30"
KEY=$(echo -n "$MAC+$SECRET" | md5sum | awk '{print $1}')
$FETCH --data "backend=netjsonconfig.OpenWrt&key=$KEY" \
  --data-urlencode secret="$SECRET" --data-urlencode name="$MAC" --data-urlencode hardware_id="" \
  --data-urlencode mac_address="$MAC" --data-urlencode tags="" \
  --data-urlencode model="TP-Link Archer C7 v5" --data-urlencode os="OpenWrt 23.05.3 r23809-234f1a2efa" \
  --data-urlencode system="Qualcomm Atheros QCA956X ver 1 rev 0" \
  -i "$URL/controller/register/" > "$WORK/registration_parameters"
[ "$(grep -ic "X-Openwisp-Controller: true" "$WORK/registration_parameters")" -ge 1 ] || exit 4
head -n 1 "$WORK/registration_parameters" | grep 201 > /dev/null || exit 5
UUID=$(cat "$WORK/registration_parameters" | grep uuid | awk '/uuid: / { print $2 }')
KEY=$(cat "$WORK/registration_parameters" | grep key | awk '/key: / { print $2 }')
NAME=$(cat "$WORK/registration_parameters" | grep hostname | awk '/hostname: / { print $2 }')
NEW=$(cat "$WORK/registration_parameters" | grep 'is-new' | awk '/is-new: / { print $2 }')
echo "registered $UUID $KEY $NAME $NEW"
for poll in first second; do
  $FETCH -i "$URL/controller/checksum/$UUID/?key=$KEY" > "$WORK/checksum"
  head -n 1 "$WORK/checksum" | grep 200 > /dev/null || exit 6
  [ "$(grep -ic "X-Openwisp-Controller: true" "$WORK/checksum")" -ge 1 ] || exit 4
  REMOTE=$(tail -n 1 "$WORK/checksum")
  CURRENT=$(cat "$WORK/applied" 2>/dev/null || true)
  if [ "$CURRENT" != "$REMOTE" ]; then
    $FETCH --fail "$URL/controller/download-config/$UUID/?key=$KEY" -o "$WORK/configuration.tar.gz"
    [ "$(md5sum "$WORK/configuration.tar.gz" | cut -d ' ' -f 1)" = "$REMOTE" ] || exit 7
    tar -ztf "$WORK/configuration.tar.gz" > "$WORK/files"
    echo "$poll poll: applied $(wc -l < "$WORK/files") files"
    $FETCH -i --data "key=$KEY&status=applied" "$URL/controller/report-status/$UUID/" > "$WORK/status_report"
    head -n 1 "$WORK/status_report" | grep 200 > /dev/null || exit 8
    printf '%s' "$REMOTE" > "$WORK/applied"
  else
    echo "$poll poll: up to date"
  fi
done
$FETCH -i --data "key=$KEY" --data-urlencode model="Archer C7 v5" --data-urlencode os="OpenWrt 24.10.0" \
  --data-urlencode system="" "$URL/controller/update-info/$UUID/" > "$WORK/update_info"
head -n 1 "$WORK/update_info" | grep 200 > /dev/null || exit 9
# The monitoring agent, with the uuid and key the config agent stored.
curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$WORK/report.json" "$URL/api/v1/monitoring/device/$UUID/?key=$KEY"
"""


def test_the_config_agents_exchange_with_curl_settles_and_the_monitoring_agent_reports(live, tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(example_report()))
    env = {"URL": live.url, "SECRET": SECRET, "MAC": "44:d1:fa:4b:38:60", "WORK": str(tmp_path)}
    first = sh(AGENT, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    registered, *rest = first.stdout.splitlines()
    _, uuid, key, name, new = registered.split()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", uuid)
    assert (key, name, new) == (
        subprocess.run(
            ["md5sum"], input=f"44:d1:fa:4b:38:60+{SECRET}", capture_output=True, text=True
        ).stdout.split()[0],
        "44:d1:fa:4b:38:60",
        "1",
    )
    assert rest == ["first poll: applied 0 files", "second poll: up to date", "200"]
    # Re-flashed: the same identity back, and the checksum already applied stays the same.
    (tmp_path / "applied").unlink()
    again = sh(AGENT, **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[0] == f"registered {uuid} {key} 44:d1:fa:4b:38:60 0"
    # A wrong secret: a 403 with the controller header (the agent gives up for good).
    wrong = sh(AGENT, **{**env, "SECRET": "wrong", "MAC": "44:d1:fa:4b:38:61"})
    assert wrong.returncode == 5
    assert (tmp_path / "registration_parameters").read_bytes().startswith(b"HTTP/1.1 403 Forbidden\r\n")


def doc_examples() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", DOCS.read_text(), re.DOTALL)


def test_the_docs_examples_work_as_written(live):
    secret_example, register_example, token_example, enroll_example, approve_example = doc_examples()
    env = {"FLEETWATCH": live.url, "ADMIN_TOKEN": live.admin, "ORGANIZATION": live.organization}

    secret = sh(secret_example, **env)
    assert json.loads(secret.stdout) == {"registration_secret": SECRET}

    registered = sh(register_example, **env, SECRET=SECRET)
    head, _, body = registered.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert head.splitlines()[0] == "HTTP/1.1 201 Created"
    assert "X-Openwisp-Controller: true" in head.splitlines()
    assert re.fullmatch(
        r"registration-result: success\nuuid: [0-9a-f-]{36}\nkey: [0-9a-f]{32}\nhostname: ap-test\nis-new: 1\n",
        body,
    )

    issued = json.loads(sh(token_example, **env).stdout)
    assert (issued["name"], issued["requires_approval"], issued["state"]) == ("solar sites", True, "active")
    assert issued["prefix"] == issued["token"][:10]

    pending = sh(enroll_example, **env, ENROLLMENT_TOKEN=issued["token"])
    head, _, body = pending.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert head.splitlines()[0] == "HTTP/1.1 202 Accepted"
    assert "Retry-After: 60" in head.splitlines()
    assert json.loads(body) == {
        "status": "pending",
        "detail": "The enrollment awaits approval by an administrator of the organization; retry later.",
    }

    listed = sh(approve_example.splitlines()[0], **env)
    [waiting] = json.loads(listed.stdout)["results"]
    assert (waiting["serial"], waiting["status"], waiting["facts"]["model"]) == (
        "SG-5113RPI4A1B2",
        "pending",
        "Raspberry Pi 4 Model B",
    )
    both = sh(approve_example, **env, ENROLLMENT=waiting["id"]).stdout
    _, end = json.JSONDecoder().raw_decode(both)  # the list again, then the approval
    approved = json.loads(both[end:])
    assert (approved["status"], approved["decided_by"]) == ("approved", "ops")

    credentials = sh(enroll_example, **env, ENROLLMENT_TOKEN=issued["token"])
    head, _, body = credentials.stdout.partition("\n\n")  # text mode: CRLF read as LF
    assert head.splitlines()[0] == "HTTP/1.1 200 OK"
    answer = json.loads(body)
    assert answer["device"]["id"] == approved["device"]
    assert (answer["status"], answer["device"]["name"], answer["http"]["url"], answer["broker"]) == (
        "approved",
        "SG-5113RPI4A1B2",
        live.url,
        None,
    )


# ----------------------------------------------------------------------------- the real agent
# openwisp-config's own script, run when FLEETWATCH_TEST_OPENWISP_AGENT names a copy of it
# (openwisp-config/files/openwisp.agent of its repository; not part of this one): the test is
# deselected otherwise (tests/inventory/conftest.py). It runs in a private mount namespace
# (`unshare --mount`, root) where /usr/sbin (and so /sbin) holds stand-ins for OpenWrt's tools
# (uci, ubus, ifconfig, logger, hotplug-call and the agent's Lua helpers) and /tmp is private; it
# speaks to the live server with the real curl, for a few of its 2-second cycles.
STAND_INS = {
    "uci": """echo "uci $*" >> /usr/sbin/uci.log
case "$1 $2" in
  "get system.@system[0].hostname") echo OpenWrt;;
  "get openwisp.http.tags") exit 1;;
esac""",
    "ubus": """printf '{\\n\\t"system": "Qualcomm Atheros QCA956X ver 1 rev 0",\\n'
printf '\\t"release": {\\n\\t\\t"description": "OpenWrt 23.05.3 r23809-234f1a2efa"\\n\\t}\\n}\\n'""",
    "ifconfig": """echo "eth0      Link encap:Ethernet  HWaddr 44:D1:FA:4B:38:70  \"""",
    "logger": """echo "logger: $*\"""",
    "openwisp-get-random-number": """echo "$1\"""",
    # The real updater (Lua) merges the archive into /etc/config; here it only unpacks it.
    "openwisp-update-config": """mkdir -p /tmp/remote && tar -zxf /tmp/openwisp/configuration.tar.gz -C /tmp/remote
echo "$(find /tmp/remote -type f | wc -l) files" >> /usr/sbin/update-config.log""",
    **{
        name: "exit 0"
        for name in (
            "openwisp-reload-config",
            "openwisp-uci-autoname",
            "openwisp-remove-default-wifi",
            "openwisp-store-unmanaged",
            "openwisp-restore-unmanaged",
            "openwisp-get-address",
            "hotplug-call",
        )
    },
}
SANDBOX = """mount --bind "$STANDINS" /usr/sbin
mount -t tmpfs none /tmp
mkdir -p /tmp/sysinfo && echo "TP-Link Archer C7 v5" > /tmp/sysinfo/model
export PATH=/usr/sbin:/usr/bin:/bin
timeout 13 sh /usr/sbin/openwisp.agent --url "$URL" --interval 2 --bootup-delay 0 --post-reload-delay 0 $CREDENTIALS
"""


def run_real_agent(live, directory: Path, credentials: str) -> list[str]:
    import shutil

    directory.mkdir()
    shutil.copy(os.environ["FLEETWATCH_TEST_OPENWISP_AGENT"], directory / "openwisp.agent")
    for name, body in STAND_INS.items():
        (directory / name).write_text(f"#!/bin/sh\n{body}\n")
        (directory / name).chmod(0o755)
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", SANDBOX],
        env={
            "PATH": os.environ["PATH"],
            "STANDINS": str(directory),
            "URL": live.url,
            "CREDENTIALS": credentials,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 124, done.stdout + done.stderr  # stopped by timeout: it kept running
    return [line.removeprefix("logger: ").split(" -t openwisp")[0] for line in done.stdout.splitlines()]


@pytest.mark.openwisp_agent
def test_the_real_config_agent_registers_settles_and_comes_back_after_a_reflash(live, tmp_path):
    secret = f"--shared-secret {SECRET}"
    first = run_real_agent(live, tmp_path / "first", secret)
    [registered] = [line for line in first if "registered successfully" in line]
    uuid = registered.rsplit("id: ", 1)[1]
    assert registered == f"New device registered successfully as 44:D1:FA:4B:38:70, id: {uuid}"
    # One download, applied once (an empty archive), then nothing new at every later poll.
    assert first.count("Downloading configuration from controller...") == 1
    assert (tmp_path / "first" / "update-config.log").read_text() == "0 files\n"
    assert first.count("Configuration applied successfully") == 1
    assert not [line for line in first if "Failed" in line or "failed" in line or "Invalid" in line]
    uci = (tmp_path / "first" / "uci.log").read_text().splitlines()
    key = next(line for line in uci if line.startswith("uci set openwisp.http.key=")).split("=", 1)[1]
    assert f"uci set openwisp.http.uuid={uuid}" in uci
    # Re-flashed (a fresh /tmp and configuration): the same identity, "Existing device".
    again = run_real_agent(live, tmp_path / "again", secret)
    assert f"Existing device registered successfully as 44:D1:FA:4B:38:70, id: {uuid}" in again
    # Restarted with its uuid and key: it sends its facts (update-info) at start.
    restarted = run_real_agent(live, tmp_path / "restarted", f"--uuid {uuid} --key {key}")
    assert "Device info updated on the controller" in restarted
