"""The OpenWrt config agent's protocol under /controller/ (agents.md, Registration): the answers
byte for byte as the agent (openwisp-config's ``register``, ``get_checksum``, ``update_info``,
``report_status``) reads them."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import uuid

import pytest
from django.test import Client

from fleetwatch.inventory.models import Device

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-of-org-a-0123456789abcdef"
MAC = "44:D1:FA:4B:38:50"


def consistent_key(base: str, secret: str = SECRET) -> str:
    """The agent's default key: md5 of "<mac or hardware id>+<shared secret>"."""
    return hashlib.md5(f"{base}+{secret}".encode()).hexdigest()


def form(**fields) -> dict:
    """What the agent posts (its --data and --data-urlencode fields), with ``fields`` changed."""
    base = {
        "backend": "netjsonconfig.OpenWrt",
        "key": consistent_key(MAC),
        "secret": SECRET,
        "name": "ap-roof",
        "hardware_id": "",
        "mac_address": MAC,
        "tags": "",
        "model": "TP-Link Archer C7 v5",
        "os": "OpenWrt 23.05.3 r23809-234f1a2efa",
        "system": "Qualcomm Atheros QCA956X ver 1 rev 0",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture
def org(orgs):
    orgs[0].registration_secret = SECRET
    orgs[0].save()
    return orgs[0]


@pytest.fixture
def agent():
    return Client(raise_request_exception=False)


def register(agent, **fields):
    return agent.post("/controller/register/", form(**fields))


def test_a_new_router_registers_and_gets_its_identity_byte_for_byte(agent, org):
    response = register(agent)
    assert response.status_code == 201
    assert response["X-Openwisp-Controller"] == "true"
    assert response["Content-Type"] == "text/plain"
    device = Device.objects.get()
    assert (
        response.content
        == (
            "registration-result: success\n"
            f"uuid: {device.pk}\n"
            f"key: {consistent_key(MAC)}\n"
            "hostname: ap-roof\n"
            "is-new: 1\n"
        ).encode()
    )
    assert (device.organization, device.name, device.mac_address, device.key) == (
        org,
        "ap-roof",
        "44:d1:fa:4b:38:50",
        consistent_key(MAC),
    )
    assert (device.model, device.os, device.system, device.hardware_id) == (
        "TP-Link Archer C7 v5",
        "OpenWrt 23.05.3 r23809-234f1a2efa",
        "Qualcomm Atheros QCA956X ver 1 rev 0",
        "",
    )


def agent_reads(body: bytes) -> dict:
    """The agent's parse: ``grep <word> | awk '/<word>: / { print $2 }'`` per value."""
    values = {}
    for line in body.decode().splitlines():
        for word in ("uuid", "key", "hostname", "is-new"):
            if line.startswith(f"{word}: "):
                values[word] = line.split()[1]
    return values


def test_a_reflashed_router_gets_the_same_identity_back_and_its_facts_updated(agent, org):
    first = agent_reads(register(agent).content)
    again = register(agent, name="ap-roof-2", os="OpenWrt 24.10.0")
    assert again.status_code == 201
    assert agent_reads(again.content) == {**first, "hostname": "ap-roof-2", "is-new": "0"}
    device = Device.objects.get()
    assert (str(device.pk), device.name, device.os) == (first["uuid"], "ap-roof-2", "OpenWrt 24.10.0")


def test_a_reflashed_router_named_by_its_mac_keeps_the_name_given_here(agent, org):
    register(agent)
    Device.objects.update(name="roof, north side")
    again = register(agent, name="44:d1:fa:4b:38:50")  # hostname "OpenWrt": the agent sends the MAC
    assert agent_reads(again.content)["hostname"] == "roof,"  # the agent's awk reads one word
    assert b"hostname: roof, north side\n" in again.content
    assert Device.objects.get().name == "roof, north side"


def test_without_a_key_a_second_registration_of_a_mac_is_refused(agent, org):
    assert register(agent, key=None).status_code == 201
    again = register(agent, key=None)
    assert again.status_code == 400
    assert again["X-Openwisp-Controller"] == "true"
    assert again.content == (
        b"error: a device with this MAC address already exists in the organization "
        b"(register with its consistent key to get its identity back)\n"
    )
    assert Device.objects.count() == 1


def test_without_a_key_the_device_gets_the_key_the_agent_would_have_computed(agent, org):
    values = agent_reads(register(agent, key=None).content)
    assert values["key"] == consistent_key(MAC) == Device.objects.get().key
    # So the same router, later registering with its consistent key, is the same device.
    again = agent_reads(register(agent).content)
    assert (again["uuid"], again["is-new"]) == (values["uuid"], "0")


def test_without_a_key_and_the_derived_key_taken_the_device_gets_a_random_one(agent, org, orgs):
    Device.objects.create(organization=orgs[1], name="elsewhere", key=consistent_key(MAC))
    values = agent_reads(register(agent, key=None).content)
    assert len(values["key"]) == 32
    assert values["key"] != consistent_key(MAC)


def test_another_organizations_device_key_is_neither_confirmed_nor_reused(agent, org, device_b):
    response = register(agent, key=device_b.key)
    values = agent_reads(response.content)
    assert (response.status_code, values["is-new"]) == (201, "1")
    assert values["key"] != device_b.key
    assert values["uuid"] != str(device_b.pk)
    assert Device.objects.get(pk=values["uuid"]).organization == org


@pytest.mark.parametrize(
    "fields",
    [
        {"secret": "wrong"},
        {"secret": ""},
        {"secret": None},
    ],
    ids=["wrong", "empty", "missing"],
)
def test_a_wrong_or_missing_secret_is_a_403_and_the_agent_gives_up(agent, org, fields):
    response = register(agent, **fields)
    assert (response.status_code, response.content) == (403, b"error: unrecognized secret\n")
    assert response["X-Openwisp-Controller"] == "true"
    assert Device.objects.count() == 0


def test_an_organization_with_registration_off_refuses_everyone(agent, org):
    org.registration_secret = ""
    org.save()
    for secret in ("", SECRET):
        assert register(agent, secret=secret).status_code == 403
    assert Device.objects.count() == 0


def test_a_deactivated_organization_or_device_is_refused(agent, org):
    register(agent)
    Device.objects.update(is_active=False)
    response = register(agent)
    assert (response.status_code, response.content) == (403, b"error: device deactivated\n")
    org.is_active = False
    org.save()
    assert register(agent).content == b"error: unrecognized secret\n"


def test_two_organizations_sharing_a_secret_are_ambiguous_and_refused(agent, org, orgs):
    orgs[1].registration_secret = SECRET
    orgs[1].save()
    assert register(agent).status_code == 403


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, b'error: missing required parameter "name"\n'),
        ({"mac_address": None}, b'error: missing required parameter "mac_address"\n'),
        ({"backend": None}, b'error: missing required parameter "backend"\n'),
        (
            {"mac_address": "zz:zz"},
            b'error: invalid parameter "mac_address": Enter a MAC address like 00:11:22:33:44:55.\n',
        ),
        ({"name": "x" * 65}, b'error: invalid parameter "name": at most 64 characters\n'),
        ({"model": "m" * 65}, b'error: invalid parameter "model": at most 64 characters\n'),
        ({"name": "ap\x00roof"}, b'error: invalid parameter "name": control characters\n'),
        ({"key": "short"}, b'error: invalid parameter "key": 16 to 64 letters, digits, "_" or "-"\n'),
        (
            {"key": "../../" + "a" * 20},
            b'error: invalid parameter "key": 16 to 64 letters, digits, "_" or "-"\n',
        ),
        ({"management_ip": "10.0.0.300"}, b'error: invalid parameter "management_ip": not an IP address\n'),
    ],
)
def test_missing_or_invalid_fields_are_a_400_naming_the_field(agent, org, fields, message):
    response = register(agent, **fields)
    assert (response.status_code, response.content) == (400, message)
    assert response["X-Openwisp-Controller"] == "true"
    assert Device.objects.count() == 0


def test_an_unknown_backend_is_refused_for_good(agent, org):
    response = register(agent, backend="netjsonconfig.OpenWisp2")
    assert (response.status_code, response.content) == (403, b"error: wrong backend\n")


def test_the_management_ip_is_stored(agent, org):
    register(agent, management_ip="10.8.0.12")
    assert Device.objects.get().management_ip == "10.8.0.12"


@pytest.fixture
def registered(agent, org):
    values = agent_reads(register(agent).content)
    return Device.objects.get(pk=values["uuid"])


def archive_md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


def test_the_checksum_is_the_md5_of_the_archive_so_the_agent_settles(agent, registered):
    checksum = agent.get(f"/controller/checksum/{registered.pk}/", {"key": registered.key})
    assert (checksum.status_code, checksum["Content-Type"]) == (200, "text/plain")
    assert checksum["X-Openwisp-Controller"] == "true"
    download = agent.get(f"/controller/download-config/{registered.pk}/", {"key": registered.key})
    assert download.status_code == 200
    assert download["X-Openwisp-Controller"] == "true"
    assert checksum.content.decode() == archive_md5(download.content)  # no newline: tail -n 1 reads it
    # A valid, empty tar.gz (what `tar -ztf` lists and openwisp-update-config extracts).
    with tarfile.open(fileobj=io.BytesIO(download.content), mode="r:gz") as tar:
        assert tar.getnames() == []
    assert gzip.decompress(download.content) == b"\0" * 10240
    # Asked again (the next poll): the same checksum, so the agent does not apply anything again.
    again = agent.get(f"/controller/checksum/{registered.pk.hex}/", {"key": registered.key})
    assert again.content == checksum.content


def test_the_checksum_poll_stores_the_management_ip(agent, registered):
    agent.get(f"/controller/checksum/{registered.pk}/", {"key": registered.key, "management_ip": "10.8.0.9"})
    registered.refresh_from_db()
    assert registered.management_ip == "10.8.0.9"


@pytest.mark.parametrize("path", ["checksum", "download-config"])
def test_polls_with_a_wrong_or_missing_key_or_an_unknown_device(agent, registered, path):
    def get(pk, **query):
        response = agent.get(f"/controller/{path}/{pk}/", query)
        assert response["X-Openwisp-Controller"] == "true"
        return response.status_code, response.content

    assert get(registered.pk, key="0" * 32) == (403, b"error: wrong key\n")
    assert get(registered.pk) == (400, b'error: missing required parameter "key"\n')
    assert get(uuid.uuid4(), key=registered.key) == (404, b"error: device not found\n")
    assert get("not-a-uuid", key=registered.key) == (404, b"error: device not found\n")
    Device.objects.update(is_active=False)
    assert get(registered.pk, key=registered.key) == (404, b"error: device not found\n")


def test_update_info_stores_the_facts(agent, registered):
    response = agent.post(
        f"/controller/update-info/{registered.pk}/",
        {"key": registered.key, "model": "Archer C7 v5", "os": "OpenWrt 24.10.1", "system": ""},
    )
    assert (response.status_code, response.content) == (200, b"update-info: success")
    assert response["X-Openwisp-Controller"] == "true"
    registered.refresh_from_db()
    assert (registered.model, registered.os, registered.system) == (
        "Archer C7 v5",
        "OpenWrt 24.10.1",
        "Qualcomm Atheros QCA956X ver 1 rev 0",  # empty values are ignored
    )
    wrong = agent.post(f"/controller/update-info/{registered.pk}/", {"key": "x" * 32, "model": "evil"})
    assert (wrong.status_code, wrong.content) == (403, b"error: wrong key\n")
    registered.refresh_from_db()
    assert registered.model == "Archer C7 v5"


def test_report_status_is_accepted_and_logged(agent, registered, caplog):
    url = f"/controller/report-status/{registered.pk}/"
    applied = agent.post(url, {"key": registered.key, "status": "applied"})
    assert (applied.status_code, applied.content) == (
        200,
        b"report-result: success\ncurrent-status: applied\n",
    )
    assert applied["X-Openwisp-Controller"] == "true"
    error = agent.post(url, {"key": registered.key, "status": "error", "error_reason": "uci: parse error"})
    assert error.status_code == 200
    assert (
        f"device {registered.pk} (ap-roof): configuration error reported: 'uci: parse error'" in caplog.text
    )
    assert agent.post(url, {"key": registered.key, "status": "done"}).content == b"error: wrong status\n"
    assert agent.post(url, {"key": registered.key}).status_code == 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "register/"),
        ("put", "register/"),
        ("post", "checksum/{pk}/"),
        ("delete", "download-config/{pk}/"),
        ("get", "update-info/{pk}/"),
        ("get", "report-status/{pk}/"),
    ],
)
def test_a_wrong_method_is_a_405_from_the_controller(agent, registered, method, path):
    response = getattr(agent, method)("/controller/" + path.format(pk=registered.pk))
    assert response.status_code == 405
    assert response["X-Openwisp-Controller"] == "true"


@pytest.mark.parametrize(
    "path", ["/controller/", "/controller/register", "/controller/nothing/here/", "/controller/checksum/"]
)
def test_other_controller_urls_are_a_404_from_the_controller(agent, path):
    response = agent.post(path)
    assert (response.status_code, response.content) == (404, b"error: not found\n")
    assert response["X-Openwisp-Controller"] == "true"


GARBAGE = [
    b"\xff\xfe\x00garbage",
    b"secret=%ff%fe&name=%00&mac_address=%zz",
    b"&".join(b"f%d=1" % i for i in range(1100)),  # more fields than Django reads
    b"secret=" + SECRET.encode() + b"&name=" + b"\xc3\x28" * 10 + b"&mac_address=44:d1:fa:4b:38:99&backend=x",
]


@pytest.mark.parametrize("body", GARBAGE)
@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xx", "text/plain"]
)
def test_garbage_is_never_a_500_and_always_a_controller_answer(agent, registered, body, content_type):
    for path in ("register/", f"update-info/{registered.pk}/", f"report-status/{registered.pk}/"):
        response = agent.generic("POST", "/controller/" + path, body, content_type=content_type)
        assert response.status_code in (400, 403), (path, response.status_code, response.content)
        assert response["X-Openwisp-Controller"] == "true"
    assert Device.objects.count() == 1
