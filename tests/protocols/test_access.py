"""The protocol endpoints' tokens: the forms clients send them in, and what each one may do."""

import base64

import pytest
from django.test import RequestFactory

from fleetwatch.protocols.access import ProtocolAuthError, authenticate, credentials
from fleetwatch.protocols.models import AccessToken, hash_token

pytestmark = pytest.mark.django_db


def _request(path="/write", headers=None, **params):
    return RequestFactory().post(
        path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else ""),
        headers=headers or {},
    )


def _basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_token_is_read_from_each_form_clients_send():
    assert credentials(_request(headers={"Authorization": "Token fwi_a"})) == "fwi_a"
    assert credentials(_request(headers={"Authorization": "Bearer fwi_b"})) == "fwi_b"
    assert credentials(_request(headers={"Authorization": _basic("grafana", "fwi_c")})) == "fwi_c"
    assert credentials(_request(u="telegraf", p="fwi_d")) == "fwi_d"
    # The header wins over the query string; a broken Basic header carries no token.
    assert credentials(_request(headers={"Authorization": "Token fwi_e"}, p="fwi_f")) == "fwi_e"
    assert credentials(_request(headers={"Authorization": "Basic !!!"})) is None
    assert credentials(_request(headers={"Authorization": _basic("user-only", "")})) is None
    assert credentials(_request()) is None


def test_only_the_hash_is_stored_and_the_text_authenticates(orgs):
    row, text = AccessToken.issue(orgs[0], "telegraf")
    assert text.startswith("fwi_")
    assert len(text) == 44
    assert row.key_hash == hash_token(text)
    assert row.prefix == text[:10]
    assert AccessToken.objects.authenticate(text) == row
    assert AccessToken.objects.authenticate(text + "x") is None
    assert AccessToken.objects.authenticate("fwb_" + text[4:]) is None  # another kind of token


def test_scopes_and_refusals(orgs):
    writer, write_text = AccessToken.issue(orgs[0], "telegraf")
    reader, read_text = AccessToken.issue(orgs[0], "grafana", can_write=False, can_read=True)

    assert authenticate(_request(headers={"Authorization": f"Token {write_text}"}), "write") == writer
    assert authenticate(_request(headers={"Authorization": _basic("g", read_text)}), "read") == reader

    def refusal(request, scope):
        with pytest.raises(ProtocolAuthError) as caught:
            authenticate(request, scope)
        return caught.value.status, caught.value.message

    assert refusal(_request(), "write") == (401, "missing token")
    assert refusal(_request(headers={"Authorization": "Token fwi_unknown"}), "write") == (
        401,
        "invalid token",
    )
    assert refusal(_request(headers={"Authorization": f"Token {write_text}"}), "read") == (
        403,
        "token may not read",
    )
    assert refusal(_request(p=read_text), "write") == (403, "token may not write")

    writer.is_active = False
    writer.save()
    assert refusal(_request(headers={"Authorization": f"Token {write_text}"}), "write") == (
        401,
        "invalid token",
    )
    orgs[0].is_active = False
    orgs[0].save()
    assert refusal(_request(headers={"Authorization": f"Bearer {read_text}"}), "read") == (
        401,
        "invalid token",
    )


def test_last_used_is_recorded(orgs):
    row, text = AccessToken.issue(orgs[0], "telegraf")
    assert row.last_used is None
    authenticate(_request(headers={"Authorization": f"Token {text}"}), "write")
    row.refresh_from_db()
    assert row.last_used is not None
