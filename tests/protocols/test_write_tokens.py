"""``fleetwatch accesstoken create|list|revoke`` run as the shell does (``fleetwatch.cli.main``):
exact output and exit codes, and the printed token writes line protocol."""

import re

import pytest

from fleetwatch.protocols.models import AccessToken
from tests.commandline import run

pytestmark = pytest.mark.django_db


def test_create_prints_the_token_once_and_it_writes(capsys, client, orgs, device_a, timeseries):
    status, out, err = run(capsys, "accesstoken", "create", "--org", "org-a", "--name", "telegraf")
    assert (status, err) == (0, "")
    token = out.strip()
    assert re.fullmatch(r"fwi_[A-Za-z0-9_-]{40}", token)
    row = AccessToken.objects.get(name="telegraf")
    assert (row.organization, row.can_write, row.can_read, row.prefix) == (orgs[0], True, False, token[:10])
    response = client.post(
        "/api/v2/write?bucket=b",
        "cpu,host=ap-lobby usage_user=1",
        content_type="text/plain",
        headers={"Authorization": f"Token {token}"},
    )
    assert response.status_code == 204

    status, out, _ = run(capsys, "accesstoken", "create", "--org", "org-b", "--name", "grafana", "--read")
    reader = AccessToken.objects.get(name="grafana")
    assert (status, reader.can_write, reader.can_read) == (0, False, True)
    assert AccessToken.objects.authenticate(out.strip()) == reader

    status, _, err = run(capsys, "accesstoken", "create", "--org", "org-a", "--name", "telegraf")
    assert status == 1
    assert err == "CommandError: organization 'org-a' already has an active token 'telegraf'\n"
    status, _, err = run(capsys, "accesstoken", "create", "--org", "nope", "--name", "x")
    assert (status, err) == (1, "CommandError: no organization 'nope' (give its slug or id)\n")


def test_list_and_revoke(capsys, client, orgs, device_a, timeseries):
    writer, token = AccessToken.issue(orgs[0], "telegraf")
    both, _ = AccessToken.issue(orgs[1], "ops", can_read=True)
    status, out, _ = run(capsys, "accesstoken", "list")
    assert status == 0
    assert out == (
        f"{writer.prefix}\torg-a\ttelegraf\twrite\tactive\tnever\n{both.prefix}\torg-b\tops\twrite,read\tactive\tnever\n"
    )
    status, out, _ = run(capsys, "accesstoken", "list", "--org", "org-b")
    assert out == f"{both.prefix}\torg-b\tops\twrite,read\tactive\tnever\n"

    status, out, err = run(capsys, "accesstoken", "revoke", "--org", "org-a", "--name", "telegraf")
    assert (status, out, err) == (0, "revoked 1 token(s)\n", "")
    response = client.post(
        "/write?db=telegraf",
        "cpu,host=ap-lobby usage_user=1",
        content_type="text/plain",
        headers={"Authorization": f"Token {token}"},
    )
    assert (response.status_code, response.json()) == (401, {"error": "invalid token"})
    status, out, _ = run(capsys, "accesstoken", "revoke", "--prefix", both.prefix)
    assert (status, out) == (0, "revoked 1 token(s)\n")
    status, out, _ = run(capsys, "accesstoken", "list")
    assert "\ttelegraf\twrite\trevoked\tnever\n" in out
    assert "\tops\twrite,read\trevoked\tnever\n" in out
    status, _, err = run(capsys, "accesstoken", "revoke", "--prefix", both.prefix)
    assert (status, err) == (1, f"CommandError: no active token with prefix '{both.prefix}'\n")
    status, _, err = run(capsys, "accesstoken", "revoke", "--org", "org-a")
    assert (status, err) == (1, "CommandError: give --org with --name, or --prefix\n")
