"""Webhooks do not go to loopback, link-local, private, unspecified or multicast addresses unless
FLEETWATCH_WEBHOOK_ALLOW_PRIVATE is true: refused when saved (API and admin, from the URL) and
when delivered (after DNS resolution, connecting to exactly the checked addresses). Names other
than localhost resolve through a stand-in resolver; every connection goes to loopback."""

import ipaddress
import socket
import ssl
from datetime import UTC, datetime

import pytest
import trustme
from rest_framework.test import APIClient

from fleetwatch.notifications.destinations import address_refusal
from fleetwatch.notifications.models import Webhook, WebhookDelivery
from fleetwatch.notifications.tasks import attempt_delivery, deliver_webhook
from tests.notifications.conftest import Receiver

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUFFIX = ": webhooks to it are refused unless FLEETWATCH_WEBHOOK_ALLOW_PRIVATE is true."


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.200.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("::ffff:10.1.2.3", "private"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("192.0.2.1", None),
        ("172.32.0.1", None),
        ("11.0.0.1", None),
        ("2001:db8::1", None),
    ],
)
def test_which_addresses_are_refused(address, reason):
    assert address_refusal(ipaddress.ip_address(address)) == reason


def admin_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def create(user, org, url):
    return admin_client(user).post(
        "/api/v1/notifications/webhooks/",
        {"organization": str(org.pk), "name": "pager", "url": url},
        format="json",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address" + SUFFIX),
        ("http://localhost:8080/alerts", "localhost is a loopback address" + SUFFIX),
        ("http://[::1]/", "::1 is a loopback address" + SUFFIX),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address" + SUFFIX),
        ("http://[fe80::1]:9093/", "fe80::1 is a link-local address" + SUFFIX),
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address" + SUFFIX),
        ("http://172.20.0.5:9093/", "172.20.0.5 is a private address" + SUFFIX),
        ("http://192.168.0.10/", "192.168.0.10 is a private address" + SUFFIX),
        ("http://[fd00::5]/", "fd00::5 is a private address" + SUFFIX),
        ("http://0.0.0.0:8000/", "0.0.0.0 is an unspecified address" + SUFFIX),
        ("http://224.0.0.251/", "224.0.0.251 is a multicast address" + SUFFIX),
        ("ftp://192.0.2.1/alerts", "Webhook URLs start with http:// or https://."),
    ],
)
def test_the_api_refuses_such_webhooks_naming_the_reason(orgs, alice, url, message):
    response = create(alice, orgs[0], url)
    assert response.status_code == 400
    assert response.json() == {"detail": f"url: {message}", "errors": {"url": [message]}}
    assert Webhook.objects.count() == 0


def test_names_and_public_addresses_are_accepted_when_saved(orgs, alice):
    # Names are not resolved when saved (what they resolve to may change): see delivery below.
    assert create(alice, orgs[0], "https://alerts.example.net/hook").status_code == 201
    assert create(alice, orgs[0], "http://192.0.2.10:9093/").status_code == 201
    assert Webhook.objects.count() == 2


def test_changing_the_url_is_checked_too(orgs, alice):
    hook = create(alice, orgs[0], "https://alerts.example.net/hook").json()
    response = admin_client(alice).patch(
        f"/api/v1/notifications/webhooks/{hook['id']}/", {"url": "http://10.0.0.7/"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"url": ["10.0.0.7 is a private address" + SUFFIX]}
    assert Webhook.objects.get().url == "https://alerts.example.net/hook"


def test_the_setting_allows_them(orgs, alice, settings):
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = True
    for url in ("http://localhost:8080/alerts", "http://127.0.0.1:9/hook", "http://10.1.2.3/"):
        assert create(alice, orgs[0], url).status_code == 201
    # … but not other schemes.
    assert create(alice, orgs[0], "ftp://127.0.0.1/").status_code == 400


def test_the_admin_refuses_them_too(client, orgs, alice):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    form = {
        "organization": str(orgs[0].pk),
        "name": "pager",
        "url": "http://192.168.1.20:9093/",
        "secret": "s3cret",
        "is_active": "on",
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
        "deliveries-MIN_NUM_FORMS": "0",
        "deliveries-MAX_NUM_FORMS": "0",
    }
    response = client.post("/admin/notifications/webhook/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors == {
        "url": ["192.168.1.20 is a private address" + SUFFIX]
    }
    assert Webhook.objects.count() == 0
    form["url"] = "https://alerts.example.net/hook"
    assert client.post("/admin/notifications/webhook/add/", form).status_code == 302
    assert Webhook.objects.get().url == "https://alerts.example.net/hook"


# --------------------------------------------------------------------------- at delivery


@pytest.fixture
def resolver(monkeypatch):
    """Stand-in DNS answers for a few names; everything else resolves as usual."""
    answers = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        if isinstance(answers[host], Exception):
            raise answers[host]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def delivery_to(org, url):
    # Saved earlier (objects.create skips validation): as when a name pointed elsewhere then,
    # or the setting was on.
    webhook = Webhook.objects.create(organization=org, name="pager", url=url)
    return WebhookDelivery.objects.create(
        webhook=webhook, kind="problem", payload={"version": "4"}, created=T0
    )


def test_a_name_resolving_to_loopback_is_refused_at_delivery_and_nothing_is_sent(orgs, receiver, resolver):
    port = receiver.server.server_address[1]
    resolver["alerts.example.net"] = ["127.0.0.1"]
    delivery = delivery_to(orgs[0], f"http://alerts.example.net:{port}/alerts")
    assert attempt_delivery(delivery, T0) is False  # no retry: it would be refused again
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code, delivery.next_attempt) == (
        "failed",
        1,
        None,
        None,
    )
    assert delivery.error == (
        "Refused: alerts.example.net resolves to 127.0.0.1, which is a loopback address" + SUFFIX
    )
    assert receiver.requests == []


def test_localhost_and_loopback_literals_are_refused_at_delivery(orgs, receiver):
    port = receiver.server.server_address[1]
    by_name = delivery_to(orgs[0], f"http://localhost:{port}/alerts")
    deliver_webhook(by_name.pk)  # the task, as the worker runs it
    by_name.refresh_from_db()
    assert (by_name.status, by_name.attempts) == ("failed", 1)
    assert by_name.error == "Refused: localhost resolves to 127.0.0.1, which is a loopback address" + SUFFIX
    literal = delivery_to(orgs[0], receiver.url)
    assert attempt_delivery(literal, T0) is False
    assert literal.error == "Refused: 127.0.0.1 is a loopback address" + SUFFIX
    assert receiver.requests == []


def test_one_refused_address_among_several_refuses_the_name(orgs, receiver, resolver):
    resolver["mixed.example.net"] = ["192.0.2.10", "10.0.0.5"]
    delivery = delivery_to(orgs[0], "http://mixed.example.net/alerts")
    assert attempt_delivery(delivery, T0) is False
    assert (delivery.status, delivery.error) == (
        "failed",
        "Refused: mixed.example.net resolves to 10.0.0.5, which is a private address" + SUFFIX,
    )


def test_a_name_that_does_not_resolve_is_retried(orgs, resolver):
    resolver["gone.example.net"] = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    delivery = delivery_to(orgs[0], "http://gone.example.net/alerts")
    assert attempt_delivery(delivery, T0) is True
    assert (delivery.status, delivery.attempts, delivery.next_attempt) == (
        "pending",
        1,
        datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC),
    )
    assert delivery.error == "cannot resolve gone.example.net: [Errno -2] Name or service not known"


def test_allowed_names_are_delivered_to_the_checked_address_with_their_host_header(
    orgs, receiver, resolver, allow_private_webhooks
):
    port = receiver.server.server_address[1]
    resolver["alerts.example.net"] = ["127.0.0.1"]
    for url in (f"http://alerts.example.net:{port}/alerts?team=ops", f"http://localhost:{port}/alerts"):
        delivery = delivery_to(orgs[0], url)
        assert attempt_delivery(delivery, T0) is False
        assert (delivery.status, delivery.response_code, delivery.error) == ("delivered", 200, "")
    assert [headers["Host"] for headers, _body in receiver.requests] == [
        f"alerts.example.net:{port}",
        f"localhost:{port}",
    ]
    assert receiver.paths == ["/alerts?team=ops", "/alerts"]


def test_https_goes_to_the_checked_address_but_verifies_the_name(
    orgs, resolver, allow_private_webhooks, monkeypatch, tmp_path
):
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("alerts.example.net").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # trusted like a public CA
    receiver = Receiver()
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    try:
        port = receiver.server.server_address[1]
        resolver["alerts.example.net"] = resolver["impostor.example.net"] = ["127.0.0.1"]
        delivered = delivery_to(orgs[0], f"https://alerts.example.net:{port}/alerts")
        assert attempt_delivery(delivered, T0) is False
        assert (delivered.status, delivered.response_code, delivered.error) == ("delivered", 200, "")
        assert [headers["Host"] for headers, _body in receiver.requests] == [f"alerts.example.net:{port}"]
        # The same address under another name: its certificate does not match, nothing is sent.
        mismatch = delivery_to(orgs[0], f"https://impostor.example.net:{port}/alerts")
        assert attempt_delivery(mismatch, T0) is True
        assert mismatch.error == "hostname 'impostor.example.net' doesn't match 'alerts.example.net'"
        assert len(receiver.requests) == 1
    finally:
        receiver.server.shutdown()


def test_the_next_address_is_tried_when_one_refuses_the_connection(
    orgs, receiver, resolver, allow_private_webhooks
):
    port = receiver.server.server_address[1]
    resolver["two.example.net"] = ["127.0.0.2", "127.0.0.1"]  # the receiver listens on the second
    delivery = delivery_to(orgs[0], f"http://two.example.net:{port}/alerts")
    assert attempt_delivery(delivery, T0) is False
    assert (delivery.status, delivery.response_code) == ("delivered", 200)
    assert len(receiver.requests) == 1
    resolver["two.example.net"] = ["127.0.0.2"]
    nobody = delivery_to(orgs[0], f"http://two.example.net:{port}/alerts")
    assert attempt_delivery(nobody, T0) is True  # retried later
    assert nobody.error.startswith("HTTPConnection(host='127.0.0.2', port=")
    assert nobody.error.endswith("Failed to establish a new connection: [Errno 111] Connection refused")
