"""docs/protocols.md's examples run as written: the token commands (through ``cli.main``), the
curl block with bash against a live server, the line-protocol and error examples, and both
Telegraf configurations, sent the way Telegraf's outputs send them with those settings."""

import base64
import gzip
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from fleetwatch import cli
from fleetwatch.core.timeseries import get_backend
from fleetwatch.inventory.models import Device
from fleetwatch.protocols.models import AccessToken
from fleetwatch.timeseries import ReadQuery

DOC = Path(__file__).parents[2] / "docs" / "protocols.md"


def blocks(language):
    """The fenced blocks of ``language`` ("" for plain ones), fences read in order."""
    found, current, kind = [], None, None
    for line in DOC.read_text().splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current, kind = [], line[3:].strip()
            else:
                if kind == language:
                    found.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return found


def test_the_doc_has_these_examples():
    assert (len(blocks("sh")), len(blocks("")), len(blocks("toml"))) == (2, 2, 2)


def test_the_shell_blocks_run(live_server, orgs, timeseries, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"ORG": "org-a"}
    for line in blocks("sh")[0].strip().splitlines():
        words = [re.sub(r"\$(\w+)", lambda m: env[m.group(1)], w) for w in shlex.split(line)]
        assert words[0] == "fleetwatch"
        target = None
        if ">" in words:
            words, target = words[: words.index(">")], words[words.index(">") + 1]
        assert cli.main(words[1:]) == 0
        out = capsys.readouterr().out
        if target:
            Path(target).write_text(out)
    token = (tmp_path / "telegraf.token").read_text().strip()
    assert AccessToken.objects.authenticate(token).name == "telegraf"
    assert "\torg-a\ttelegraf\twrite\tactive\tnever" in out

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks("sh")[1]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "FLEETWATCH": live_server.url, "ORG": "org-a"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "204\n", "")
    web1 = Device.objects.get(organization=orgs[0], name="web-1")  # created: an unknown host
    (row,) = get_backend().read(ReadQuery("cpu"))
    assert row.tags["object_id"] == str(web1.pk)
    assert row.fields == {"usage_user": 12.5, "usage_system": 3.25}


@pytest.mark.django_db
def test_the_line_protocol_and_error_examples(client, orgs, timeseries):
    _, token = AccessToken.issue(orgs[0], "docs")
    auth = {"Authorization": f"Token {token}"}
    example, error = blocks("")
    response = client.post("/api/v2/write?bucket=b", example, content_type="text/plain", headers=auth)
    assert response.status_code == 204
    (mem,) = get_backend().read(ReadQuery("mem"))
    assert mem.fields == {"used_percent": 41.5, "total": 8_000_000_000, "ok": True, "note": "main pool"}
    bad = "cpu,host=web-1 usage_user=1\n" + re.search(r"\('(.*)'\)", error).group(1)
    response = client.post("/api/v2/write?bucket=b", bad, content_type="text/plain", headers=auth)
    assert response.json()["message"] == error.strip()


@pytest.mark.django_db
def test_both_telegraf_configurations_are_accepted(client, orgs, device_a, timeseries):
    _, token = AccessToken.issue(orgs[0], "telegraf")
    v2, v1 = (tomllib.loads(block)["outputs"] for block in blocks("toml"))
    body = gzip.compress(b"system,host=ap-lobby load1=0.25,n_cpus=4i 1764633600000000000\n")

    # outputs.influxdb_v2: POST <url>/api/v2/write?bucket=…&org=…, Authorization: Token.
    (out,) = v2["influxdb_v2"]
    assert out["token"] == "fwi_your_token"
    assert out["content_encoding"] == "gzip"
    response = client.post(
        f"/api/v2/write?bucket={out['bucket']}&org={out['organization']}",
        body,
        content_type="text/plain; charset=utf-8",
        headers={"Authorization": f"Token {token}", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 204

    # outputs.influxdb: POST <url>/write?db=…, Basic user:password, no CREATE DATABASE.
    (out,) = v1["influxdb"]
    assert out["skip_database_creation"] is True
    assert out["password"] == "fwi_your_token"
    basic = base64.b64encode(f"{out['username']}:{token}".encode()).decode()
    response = client.post(
        f"/write?db={out['database']}",
        body,
        content_type="text/plain; charset=utf-8",
        headers={"Authorization": f"Basic {basic}", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 204
    (row,) = get_backend().read(ReadQuery("system"))
    assert row.fields == {"load1": 0.25, "n_cpus": 4}
