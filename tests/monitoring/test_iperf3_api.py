"""The iperf3 check's REST endpoints (servers, devices' SSH credentials): secrets write-only and
kept when omitted, validation as 400s that write nothing; and docs/iperf3.md's examples, run.
Who may call them (personas) is in tests/api/test_contract.py."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from django.test import Client

from fleetwatch.monitoring.models import Iperf3Server, SshCredentials
from tests.deploy.conftest import fleetwatch_environment

DOC = Path(__file__).resolve().parents[2] / "docs" / "iperf3.md"
SERVERS = "/api/v1/monitoring/iperf3-servers/"
CREDENTIALS = "/api/v1/monitoring/ssh-credentials/"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_the_docs_examples_create_a_server_and_credentials(alice, device_a):
    client = client_of(alice)
    server_body, credentials_body = (
        json.loads(
            block.replace("ORGANIZATION", str(device_a.organization_id)).replace("DEVICE", str(device_a.pk))
        )
        for block in blocks("json")
    )

    server = post(client, SERVERS, server_body)
    credentials = post(client, CREDENTIALS, credentials_body)

    assert server.status_code == 201, server.content
    assert {k: v for k, v in server.json().items() if k not in ("id", "created")} == {
        "organization": str(device_a.organization_id),
        "host": "iperf.example.net",
        "port": 5201,
        "priority": 0,
        "is_active": True,
        "username": "",
        "has_password": False,
        "rsa_public_key": "",
    }
    assert credentials.status_code == 201, credentials.content
    assert {k: v for k, v in credentials.json().items() if k != "updated"} == {
        "id": str(device_a.pk),
        "organization": str(device_a.organization_id),
        "device": str(device_a.pk),
        "username": "root",
        "address": "",
        "port": 22,
        "has_password": True,
        "has_private_key": False,
        "host_key": "",
    }
    assert SshCredentials.objects.get(pk=device_a.pk).password == "router-password"


def test_secrets_are_never_answered_and_kept_when_an_update_omits_them(alice, device_a):
    client = client_of(alice)
    url = f"{CREDENTIALS}{device_a.pk}/"
    post(client, CREDENTIALS, {"device": str(device_a.pk), "username": "root", "password": "first"})

    answer = patch(client, url, {"username": "admin", "port": 2222})

    assert answer.status_code == 200
    assert "password" not in answer.json()
    assert "first" not in answer.content.decode()
    row = SshCredentials.objects.get(pk=device_a.pk)
    assert (row.username, row.port, row.password) == ("admin", 2222, "first")
    assert "first" not in client.get(url).content.decode()


def test_invalid_bodies_are_400s_naming_the_field_and_write_nothing(alice, device_a):
    client = client_of(alice)
    org = str(device_a.organization_id)
    cases = [
        (CREDENTIALS, {"device": str(device_a.pk), "username": "root", "private_key": "not a key"}),
        (CREDENTIALS, {"device": str(device_a.pk), "username": "root"}),
        (CREDENTIALS, {"device": str(device_a.pk), "password": "pw", "host_key": "ssh-ed25519 not base64!"}),
        (CREDENTIALS, {"device": str(device_a.pk), "password": "pw", "address": "-oProxyCommand=x"}),
        (SERVERS, {"organization": org, "host": "-s", "port": 5201}),
        (SERVERS, {"organization": org, "host": "iperf.example.net", "username": "fleet"}),
    ]
    answers = [(url, post(client, url, body).json()) for url, body in cases]
    assert answers == [
        (
            CREDENTIALS,
            {
                "detail": "private_key: the SSH private key cannot be read (an Ed25519, ECDSA or RSA key, "
                "OpenSSH or PEM)",
                "errors": {
                    "private_key": [
                        "the SSH private key cannot be read (an Ed25519, ECDSA or RSA key, OpenSSH or PEM)"
                    ]
                },
            },
        ),
        (
            CREDENTIALS,
            {
                "detail": "password: Give a private key or a password.",
                "errors": {"password": ["Give a private key or a password."]},
            },
        ),
        (
            CREDENTIALS,
            {
                "detail": "host_key: Enter a host key as `type base64`, e.g. `ssh-ed25519 AAAA…`.",
                "errors": {"host_key": ["Enter a host key as `type base64`, e.g. `ssh-ed25519 AAAA…`."]},
            },
        ),
        (
            CREDENTIALS,
            {
                "detail": "address: Enter a host name or an IP address.",
                "errors": {"address": ["Enter a host name or an IP address."]},
            },
        ),
        (
            SERVERS,
            {
                "detail": "host: Enter a host name or an IP address.",
                "errors": {"host": ["Enter a host name or an IP address."]},
            },
        ),
        (
            SERVERS,
            {
                "detail": "username: iperf3 authentication needs a username, a password and the server's "
                "RSA public key (or none of them).",
                "errors": {
                    "username": [
                        "iperf3 authentication needs a username, a password and the server's RSA public "
                        "key (or none of them)."
                    ]
                },
            },
        ),
    ]
    assert (SshCredentials.objects.count(), Iperf3Server.objects.count()) == (0, 0)


def test_a_second_set_or_a_duplicate_server_is_a_400_and_the_first_stays(alice, device_a):
    client = client_of(alice)
    body = {"device": str(device_a.pk), "username": "root", "password": "first"}
    server = {"organization": str(device_a.organization_id), "host": "127.0.0.1", "port": 5201}
    assert post(client, CREDENTIALS, body).status_code == 201
    assert post(client, SERVERS, server).status_code == 201

    again = post(client, CREDENTIALS, {**body, "password": "second"})
    duplicate = post(client, SERVERS, server)

    assert (again.status_code, again.json()["errors"]) == (
        400,
        {"device": ["The device already has SSH credentials: change those."]},
    )
    assert (duplicate.status_code, duplicate.json()["errors"]) == (
        400,
        {"port": ["The organization already has this server and port."]},
    )
    assert SshCredentials.objects.get(pk=device_a.pk).password == "first"
    assert Iperf3Server.objects.count() == 1


def test_the_docs_key_block_makes_a_fernet_key():
    [make, _] = blocks("sh")
    out = subprocess.run(
        ["bash", "-c", make.replace("python ", f"{sys.executable} ", 1)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Fernet(out)  # a valid key, or ValueError
    assert len(out) == 44


def test_the_docs_rotation_block_runs(tmp_path):
    [_, rotation] = blocks("sh")
    env = fleetwatch_environment(
        tmp_path, NEW_KEY=Fernet.generate_key().decode(), OLD_KEY=Fernet.generate_key().decode()
    )
    migrated = subprocess.run(
        ["fleetwatch", "migrate", "--verbosity", "0"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", rotation], env=env, capture_output=True, text=True
    )

    assert (result.returncode, result.stdout) == (0, "re-encrypted the credentials of 0 rows\n"), (
        result.stderr
    )
