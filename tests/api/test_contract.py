"""The endpoint contract: every route under ``/api/v1/``, every method, every persona, one exact
status each.

**What it checks.** The routes are discovered from the URL resolver (``contract.api_routes``):
every pattern under ``/api/v1/``, router list/detail routes, extra actions, the API root, the
schema and its viewers (and format-suffix variants, should a router add them again).
``CONTRACT`` below has one entry per URL name; for each route the test sends GET, POST, PUT,
PATCH and DELETE as each persona and compares the status with the entry (and a 401 must carry
``WWW-Authenticate: Token``):

- ``anonymous``: no credentials;
- ``outsider``: an administrator of organization B (so also a would-be writer into A);
- ``member``: a plain member of organization A, the owner of the objects the URLs point at;
- ``admin``: an administrator of organization A;

each authenticated persona once with a session and once with a token
(``Authorization: Token …``). An entry may add personas of its own: the agent endpoint has
``device_key`` (the device's own ``?key=``) and ``wrong_key`` (another device's key); the usage
collector's answers have ``superuser`` (a user with ``is_superuser`` and no membership, with a
session and with a token, like the four). A method an
entry does not list must be refused as its ``others`` say (``NOT_ALLOWED``: anonymous 401, anyone
else 405). Every request runs in a rolled-back transaction, so one persona's DELETE does not
change the next one's answer. Bodies are valid, so a status reflects permission, not validation;
``invalid=`` adds one body per create that must give a 400 in the one error shape,
``{"detail": "<field>: <message>", "errors": {"<field>": [...]}}``, and write nothing.
List calls also check *which* objects come back (``seen(...)``), for a bare list or a page
``{"results": [...]}`` alike: no object of organization A reaches an outsider. Every error other
than a 400 carries a ``detail``. HEAD must answer as GET; OPTIONS is not probed. An unknown or
malformed id in a detail route is a 404 for an administrator, for every method the entry lists.

**Adding an endpoint.** ``test_every_route_has_an_entry`` fails naming a route without an entry
(and an entry whose route is gone); ``test_a_route_added_without_an_entry_is_reported`` shows it
does, with a viewset and a plain view added under a temporary URLconf. Add
``CONTRACT["<url name>"] = entry(...)``: copy the nearest entry, state what each persona must get,
run this module. Entries are keyed by URL name (with its namespace, ``"ns:name"``, if any).

**What the statuses say today.** No credentials (or an unknown token) is 401 with
``WWW-Authenticate: Token`` on every authenticated route (token authentication comes first in
``REST_FRAMEWORK``); the agent's ``?key=`` is no HTTP authentication, so a missing or wrong key
is 403. Other organizations' objects are 404 (they do not exist for you), never 403; a member
who may see but not change gets 403; creating into an organization you belong to but do not
administer is 403, while naming another organization (or its device or location) in a body is
answered as an unknown id, 400
(``test_another_organizations_id_in_a_body_is_answered_as_an_unknown_id``). The schema and its
viewers are public, like the health endpoint.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.http import JsonResponse
from django.test import Client
from django.urls import include, path, reverse
from rest_framework import viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.urlpatterns import format_suffix_patterns

from tests.api.contract import (
    ADMIN,
    ANONYMOUS,
    MEMBER,
    NOT_ALLOWED_TO_ANYONE,
    OUTSIDER,
    PROBED,
    SUPERUSER,
    Entry,
    Route,
    api_routes,
    call,
    coverage_problems,
    entry,
    entry_problems,
    listed_items,
    pk,
    refused,
    seen,
)
from tests.ingest.payloads import example_report
from tests.usage.payloads import fleetwatch_upload

START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def org_a(world) -> str:
    return str(world.org_a.pk)


def device_body(world) -> dict:
    return {"name": "ap-new", "organization": org_a(world), "mac_address": "00:11:22:33:44:66"}


def webhook_body(world) -> dict:
    return {"organization": org_a(world), "name": "ops", "url": "http://127.0.0.1:9/hook"}


def window_body(world) -> dict:
    end = START + timedelta(hours=2)
    return {"organization": org_a(world), "start": START.isoformat(), "end": end.isoformat()}


def job_body(world) -> dict:
    return {"organization": org_a(world), "section": "x1", "type": "dump", "datacenter": "eqiad"}


def open_body(world) -> dict:
    return {"job": str(world.job_a.pk), "host": "dbprov1002.eqiad.wmnet"}


def token_body(world) -> dict:
    return {"organization": org_a(world), "name": "dbprov1002"}


def iperf3_server_body(world) -> dict:
    return {"organization": org_a(world), "host": "iperf.example.net", "port": 5202}


def ssh_credentials_body(world) -> dict:
    return {"device": str(world.spare_a.pk), "username": "root", "password": "router-password"}


def enrollment_token_body(world) -> dict:
    return {"organization": org_a(world), "name": "stations", "requires_approval": True}


def usage_upload(world) -> dict:
    return fleetwatch_upload("Heartbeat", START.date())


def enroll_body(world) -> dict:
    return {"token": world.enrollment_tokens["a"], "serial": "SG-5113RPI4A1B2", "model": "Raspberry Pi 4"}


# The usage collector's answers: superusers only (anyone else authenticated 403), for GET; any
# other method 405 to a superuser (DRF checks permissions before it looks for a handler).
SUPERUSERS_ONLY = {"anonymous": 401, "outsider": 403, "member": 403, "admin": 403, SUPERUSER: 200}
NOT_ALLOWED_TO_SUPERUSERS_ONLY = refused(anonymous=401, outsider=403, member=403, admin=403, superuser=405)


def usage_answer() -> Entry:
    return entry(GET=call("retrieve", **SUPERUSERS_ONLY), others=NOT_ALLOWED_TO_SUPERUSERS_ONLY)


# Enrollment tokens and requests: administrators only. A user who administers no organization
# (the member) is refused everywhere, also for methods the route does not have (DRF checks
# permissions before it looks for a handler).
NOT_ALLOWED_TO_ADMINS_ONLY = refused(anonymous=401, outsider=405, member=403, admin=405)
ADMINS_ONLY = {"anonymous": 401, "outsider": 404, "member": 403, "admin": 200}

RUNNER, WRONG_RUNNER = "runner_token", "wrong_runner_token"
# The backups' A.7 answers and metrics: every persona that reads them gets a 200 (with its own
# organization's rows only); runner tokens read them too.
READ_BY_ALL = {"anonymous": 401, "outsider": 200, "member": 200, "admin": 200, RUNNER: 200, WRONG_RUNNER: 200}
NOT_ALLOWED_WITH_RUNNERS = refused(
    anonymous=401, outsider=405, member=405, admin=405, runner_token=405, wrong_runner_token=405
)
# The agents' plain views (device key, no HTTP authentication): 405 to everyone.
KEY_REFUSED = refused(anonymous=405, outsider=405, member=405, admin=405, device_key=405, wrong_key=405)
PUBLIC_WITH_RUNNERS = refused(
    anonymous=405, outsider=405, member=405, admin=405, runner_token=405, wrong_runner_token=405
)


# --------------------------------------------------------------------------------- the contract
# One entry per URL name. Statuses are exact. Personas: anonymous, outsider (administrator of
# organization B), member and admin of organization A; the objects in URLs belong to A.
CONTRACT: dict[str, Entry] = {
    # ---- public
    "health": entry(
        GET=call("retrieve", anonymous=200, outsider=200, member=200, admin=200),
        others=NOT_ALLOWED_TO_ANYONE,
    ),
    # ---- the OpenAPI schema and its viewers (drf-spectacular): public like the health endpoint.
    # The schema describes the endpoints, never a row, and the same for every caller; an operator
    # (or a client generator) fetches it without credentials. Their 405s are rendered as the
    # route's own format (an OpenAPI document, an HTML page), not JSON.
    "schema": entry(
        GET=call("retrieve", anonymous=200, outsider=200, member=200, admin=200),
        others=NOT_ALLOWED_TO_ANYONE,
        json_errors=False,
    ),
    "docs": entry(
        GET=call("retrieve", anonymous=200, outsider=200, member=200, admin=200),
        others=NOT_ALLOWED_TO_ANYONE,
        json_errors=False,
    ),
    "redoc": entry(
        GET=call("retrieve", anonymous=200, outsider=200, member=200, admin=200),
        others=NOT_ALLOWED_TO_ANYONE,
        json_errors=False,
    ),
    #
    # ---- monitoring
    # Agents POST reports with ?key= (a session or token is no key); people and agents GET charts.
    "device-monitoring": entry(
        kwargs=pk("device_a"),
        GET=call(
            "retrieve",
            anonymous=401,
            outsider=404,
            member=200,
            admin=200,
            device_key=200,
            wrong_key=403,
        ),
        POST=call(
            "create",
            body=lambda world: example_report(),
            invalid=(lambda world: {"type": "DeviceMonitoring", "resources": {"load": "high"}}, "detail"),
            # The agent protocol: ?key= is the only credential (not an HTTP authentication
            # scheme), so a missing key is a wrong key, 403, as the peer answers.
            anonymous=403,
            outsider=403,
            member=403,
            admin=403,
            device_key=200,
            wrong_key=403,
        ),
        others=refused(anonymous=405, outsider=405, member=405, admin=405, device_key=405, wrong_key=405),
    ),
    "device-status-history": entry(
        kwargs=pk("device_a"),
        GET=call("list", anonymous=401, outsider=404, member=200, admin=200),
    ),
    "monitoring-dashboard": entry(
        # Narrowed to organization A: an outsider naming it gets 404, as for any of A's objects.
        GET=call(
            "retrieve",
            query=lambda world: "organization_slug=org-a",
            anonymous=401,
            outsider=404,
            member=200,
            admin=200,
        ),
    ),
    # ---- inventory
    "api-root": entry(GET=call("retrieve", anonymous=401, outsider=200, member=200, admin=200)),
    "organization-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("org_a", MEMBER, ADMIN), seen("org_b", OUTSIDER)),
        ),
    ),
    "organization-detail": entry(
        kwargs=pk("org_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=200, admin=200),
    ),
    # The OpenWrt config agent's shared secret: administrators read it, rotate it (POST), turn
    # registration off (DELETE).
    "organization-registration-secret": entry(
        kwargs=pk("org_a"),
        GET=call("registration_secret", **ADMINS_ONLY),
        POST=call("registration_secret", **ADMINS_ONLY),
        DELETE=call("registration_secret", **ADMINS_ONLY),
    ),
    # ---- enrollment: devices enroll with an enrollment token (no session nor user token is
    # used: everyone with A's token enrolls into A); administrators manage tokens and requests.
    "enroll": entry(
        POST=call(
            "create",
            body=enroll_body,
            invalid=(lambda world: {**enroll_body(world), "serial": ""}, "serial"),
            anonymous=201,
            outsider=201,
            member=201,
            admin=201,
        ),
        others=NOT_ALLOWED_TO_ANYONE,
    ),
    # Any deployment reports its usage metrics, without credentials (the server is a collector).
    "usage-collect": entry(
        POST=call(
            "create",
            body=usage_upload,
            invalid=(lambda world: {**usage_upload(world), "idsite": "five"}, "idsite"),
            anonymous=204,
            outsider=204,
            member=204,
            admin=204,
        ),
        others=NOT_ALLOWED_TO_ANYONE,
    ),
    # What the collector answers: superusers only.
    "usage-active": usage_answer(),
    "usage-installs": usage_answer(),
    "usage-adoption": usage_answer(),
    "usage-shares": usage_answer(),
    "usage-survival": usage_answer(),
    "enrollment-token-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=403,
            admin=200,
            shows=(seen("enrollment_token_a", ADMIN), seen("enrollment_token_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=enrollment_token_body,
            invalid=(
                lambda world: {**enrollment_token_body(world), "expires": "2020-01-01T00:00:00Z"},
                "expires",
            ),
            anonymous=401,
            outsider=400,
            member=403,
            admin=201,
        ),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "enrollment-token-detail": entry(
        kwargs=pk("enrollment_token_a"),
        GET=call("retrieve", **ADMINS_ONLY),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "enrollment-token-revoke": entry(
        kwargs=pk("enrollment_token_a"),
        POST=call("revoke", **ADMINS_ONLY),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "enrollment-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=403,
            admin=200,
            shows=(seen("enrollment_a", ADMIN), seen("enrollment_b", OUTSIDER)),
        ),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "enrollment-detail": entry(
        kwargs=pk("enrollment_a"),
        GET=call("retrieve", **ADMINS_ONLY),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "enrollment-approve": entry(
        kwargs=pk("enrollment_a"),
        POST=call("approve", **ADMINS_ONLY),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "enrollment-reject": entry(
        kwargs=pk("enrollment_a"),
        POST=call("reject", **ADMINS_ONLY),
        others=NOT_ALLOWED_TO_ADMINS_ONLY,
    ),
    "device-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("device_a", MEMBER, ADMIN), seen("device_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=device_body,
            invalid=(lambda world: {**device_body(world), "mac_address": "zz"}, "mac_address"),
            anonymous=401,
            # A's id in the body is unknown to the outsider: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
        ),
    ),
    "device-detail": entry(
        kwargs=pk("device_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=200, admin=200),
        PUT=call(
            "update",
            body=lambda world: {"name": "ap-renamed", "organization": org_a(world)},
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
        ),
        PATCH=call(
            "partial_update",
            body=lambda world: {"name": "ap-renamed"},
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
        ),
        DELETE=call("destroy", anonymous=401, outsider=404, member=403, admin=204),
    ),
    # The fleet page's map (web/fleet.py): the located devices of the user's organizations.
    "device-map-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("device_a", MEMBER, ADMIN), seen("device_b", OUTSIDER)),
        ),
    ),
    # ---- notifications: the user's own; preferences per user
    "notification-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(
                seen("note_member", MEMBER),
                seen("note_admin", ADMIN),
                seen("note_outsider", OUTSIDER),
            ),
        ),
    ),
    # The member's own notification: nobody else's, not even their organization admin's.
    "notification-detail": entry(
        kwargs=pk("note_member"),
        GET=call("retrieve", anonymous=401, outsider=404, member=200, admin=404),
    ),
    "notification-read": entry(
        kwargs=pk("note_member"),
        POST=call("read", anonymous=401, outsider=404, member=200, admin=404),
    ),
    "notification-read-all": entry(
        POST=call("read_all", anonymous=401, outsider=200, member=200, admin=200),
    ),
    "notification-unread-count": entry(
        GET=call("unread_count", anonymous=401, outsider=200, member=200, admin=200),
    ),
    "notification-preferences": entry(
        GET=call("retrieve", anonymous=401, outsider=200, member=200, admin=200),
        PUT=call(
            "update",
            body=lambda world: {"web": True, "email": False},
            invalid=(lambda world: {"email": "perhaps"}, "email"),
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
        ),
        PATCH=call(
            "partial_update",
            body=lambda world: {"email": False},
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
        ),
    ),
    # ---- webhooks: administrators only (they hold a signing secret); members see none
    "webhook-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("webhook_a", ADMIN), seen("webhook_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=webhook_body,
            invalid=(lambda world: {**webhook_body(world), "url": "ftp://127.0.0.1/hook"}, "url"),
            anonymous=401,
            # A's id in the body is unknown to the outsider: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
        ),
    ),
    "webhook-detail": entry(
        kwargs=pk("webhook_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=404, admin=200),
        PUT=call("update", body=webhook_body, anonymous=401, outsider=404, member=404, admin=200),
        PATCH=call(
            "partial_update",
            body=lambda world: {"name": "renamed"},
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
        ),
        DELETE=call("destroy", anonymous=401, outsider=404, member=404, admin=204),
    ),
    "webhook-deliveries": entry(
        kwargs=pk("webhook_a"),
        GET=call("deliveries", anonymous=401, outsider=404, member=404, admin=200),
    ),
    # ---- maintenance windows: members read, administrators write
    "maintenance-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("window_a", MEMBER, ADMIN), seen("window_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=window_body,
            invalid=(lambda world: {**window_body(world), "end": START.isoformat()}, "end"),
            anonymous=401,
            # A's id in the body is unknown to the outsider: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
        ),
    ),
    "maintenance-detail": entry(
        kwargs=pk("window_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=200, admin=200),
        PUT=call("update", body=window_body, anonymous=401, outsider=404, member=403, admin=200),
        PATCH=call(
            "partial_update",
            body=lambda world: {"reason": "firmware upgrade"},
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
        ),
        DELETE=call("destroy", anonymous=401, outsider=404, member=403, admin=204),
    ),
    # ---- the iperf3 check's servers and devices' SSH credentials: administrators only (they
    # hold credentials), as webhooks; members see none.
    "iperf3-server-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("iperf3_server_a", ADMIN), seen("iperf3_server_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=iperf3_server_body,
            invalid=(lambda world: {**iperf3_server_body(world), "port": 70000}, "port"),
            anonymous=401,
            # A's id in the body is unknown to the outsider: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
        ),
    ),
    "iperf3-server-detail": entry(
        kwargs=pk("iperf3_server_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=404, admin=200),
        PUT=call("update", body=iperf3_server_body, anonymous=401, outsider=404, member=404, admin=200),
        PATCH=call(
            "partial_update",
            body=lambda world: {"priority": 5},
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
        ),
        DELETE=call("destroy", anonymous=401, outsider=404, member=404, admin=204),
    ),
    "ssh-credentials-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("ssh_a", ADMIN), seen("ssh_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=ssh_credentials_body,
            invalid=(lambda world: {"device": str(world.spare_a.pk), "username": "root"}, "password"),
            anonymous=401,
            # A's device is unknown to the outsider: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
        ),
    ),
    "ssh-credentials-detail": entry(
        kwargs=pk("ssh_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=404, admin=200),
        PUT=call(
            "update",
            body=lambda world: {"device": str(world.device_a.pk), "username": "admin"},
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
        ),
        PATCH=call(
            "partial_update",
            body=lambda world: {"port": 2222},
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
        ),
        DELETE=call("destroy", anonymous=401, outsider=404, member=404, admin=204),
    ),
    #
    # ---- backups: members read, administrators write; runner tokens (Bearer) of organization A
    # open, fill and close A's runs and read A's jobs; B's runner token sees B's only. A runner
    # token may not write jobs nor see tokens (403); every other endpoint does not know it (401).
    "backup-job-list": entry(
        GET=call(
            "list",
            **READ_BY_ALL,
            shows=(
                seen("job_a", MEMBER, ADMIN, RUNNER),
                seen("job_b", OUTSIDER, WRONG_RUNNER),
            ),
        ),
        POST=call(
            "create",
            body=job_body,
            invalid=(lambda world: {**job_body(world), "section": "x 1"}, "section"),
            anonymous=401,
            outsider=400,
            member=403,
            admin=201,
            runner_token=403,
            wrong_runner_token=403,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backup-job-detail": entry(
        kwargs=pk("job_a"),
        GET=call(
            "retrieve",
            anonymous=401,
            outsider=404,
            member=200,
            admin=200,
            runner_token=200,
            wrong_runner_token=404,
        ),
        PUT=call(
            "update",
            body=lambda world: {**job_body(world), "section": "s1"},
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
            runner_token=403,
            wrong_runner_token=403,
        ),
        PATCH=call(
            "partial_update",
            body=lambda world: {"freshness": 86400},
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
            runner_token=403,
            wrong_runner_token=403,
        ),
        DELETE=call(
            "destroy",
            anonymous=401,
            outsider=404,
            member=403,
            admin=204,
            runner_token=403,
            wrong_runner_token=403,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backup-run-list": entry(
        GET=call(
            "list",
            **READ_BY_ALL,
            shows=(
                seen("run_a", MEMBER, ADMIN, RUNNER),
                seen("finished_a", MEMBER, ADMIN, RUNNER),
                seen("run_b", OUTSIDER, WRONG_RUNNER),
            ),
        ),
        POST=call(
            "create",
            body=open_body,
            invalid=(lambda world: {**open_body(world), "start_date": "yesterday"}, "start_date"),
            anonymous=401,
            # A's job is unknown to B's administrator and to B's runner: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
            runner_token=201,
            wrong_runner_token=400,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backup-run-detail": entry(
        kwargs=pk("run_a"),
        GET=call(
            "retrieve",
            anonymous=401,
            outsider=404,
            member=200,
            admin=200,
            runner_token=200,
            wrong_runner_token=404,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backup-run-files": entry(
        kwargs=pk("run_a"),
        GET=call(
            "files",
            anonymous=401,
            outsider=404,
            member=200,
            admin=200,
            runner_token=200,
            wrong_runner_token=404,
        ),
        POST=call(
            "files",
            body=lambda world: {"files": [{"file_path": "", "file_name": "dump.sql.gz", "size": 1024}]},
            invalid=(lambda world: {"files": [{"file_name": "a", "size": -1}]}, "files"),
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
            runner_token=200,
            wrong_runner_token=404,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backup-run-close": entry(
        kwargs=pk("run_a"),
        POST=call(
            "close",
            body=lambda world: {"status": "finished"},
            invalid=(lambda world: {"status": "done"}, "status"),
            anonymous=401,
            outsider=404,
            member=403,
            admin=200,
            runner_token=200,
            wrong_runner_token=404,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    # Runner tokens: administrators only (members see none); no runner token sees any.
    "backup-token-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            runner_token=403,
            wrong_runner_token=403,
            shows=(seen("token_a", ADMIN), seen("token_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=token_body,
            invalid=(lambda world: {**token_body(world), "name": ""}, "name"),
            anonymous=401,
            outsider=400,
            member=403,
            admin=201,
            runner_token=403,
            wrong_runner_token=403,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backup-token-detail": entry(
        kwargs=pk("token_a"),
        GET=call(
            "retrieve",
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
            runner_token=403,
            wrong_runner_token=403,
        ),
        PUT=call(
            "update",
            body=token_body,
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
            runner_token=403,
            wrong_runner_token=403,
        ),
        PATCH=call(
            "partial_update",
            body=lambda world: {"is_active": False},
            anonymous=401,
            outsider=404,
            member=404,
            admin=200,
            runner_token=403,
            wrong_runner_token=403,
        ),
        DELETE=call(
            "destroy",
            anonymous=401,
            outsider=404,
            member=404,
            admin=204,
            runner_token=403,
            wrong_runner_token=403,
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    # The A.7 endpoints: each caller's own matrix; organization B has no section s1.
    "backups-recent-all": entry(
        GET=call(
            "list",
            **READ_BY_ALL,
            shows=(seen("finished_a", MEMBER, ADMIN, RUNNER), seen("run_b", OUTSIDER, WRONG_RUNNER)),
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backups-recent-section": entry(
        kwargs=lambda world: {"section": "s1"},
        GET=call(
            "list",
            anonymous=401,
            outsider=404,
            member=200,
            admin=200,
            runner_token=200,
            wrong_runner_token=404,
            shows=(seen("finished_a", MEMBER, ADMIN, RUNNER),),
        ),
        others=NOT_ALLOWED_WITH_RUNNERS,
    ),
    "backups-datacenters": entry(GET=call("retrieve", **READ_BY_ALL), others=NOT_ALLOWED_WITH_RUNNERS),
    "backups-types": entry(GET=call("retrieve", **READ_BY_ALL), others=NOT_ALLOWED_WITH_RUNNERS),
    "backups-sections": entry(GET=call("retrieve", **READ_BY_ALL), others=NOT_ALLOWED_WITH_RUNNERS),
    "backups-freshness": entry(GET=call("list", **READ_BY_ALL), others=NOT_ALLOWED_WITH_RUNNERS),
    # Probes are public, like the health endpoint.
    "backups-liveness": entry(
        GET=call(
            "retrieve",
            anonymous=200,
            outsider=200,
            member=200,
            admin=200,
            runner_token=200,
            wrong_runner_token=200,
        ),
        others=PUBLIC_WITH_RUNNERS,
    ),
    "backups-readiness": entry(
        GET=call(
            "retrieve",
            anonymous=200,
            outsider=200,
            member=200,
            admin=200,
            runner_token=200,
            wrong_runner_token=200,
        ),
        others=PUBLIC_WITH_RUNNERS,
    ),
    # Prometheus text on success; errors are JSON like every other.
    "backups-metrics": entry(GET=call("retrieve", **READ_BY_ALL), others=NOT_ALLOWED_WITH_RUNNERS),
    #
    # ---- device commands: administrators of the device's organization only (members 403,
    # outsiders 404). The agents' poll and command log take the device key, as reports do.
    "device-agent": entry(
        kwargs=pk("device_a"),
        POST=call(
            "create",
            body=lambda world: {"agent": "fleetwatch-agent/0.1.0"},
            invalid=(lambda world: {"next": "soon"}, "detail"),
            anonymous=403,
            outsider=403,
            member=403,
            admin=403,
            device_key=200,
            wrong_key=403,
        ),
        others=KEY_REFUSED,
    ),
    "device-cmdlog": entry(
        kwargs=pk("device_a"),
        POST=call(
            "create",
            query=lambda world: f"seq={world.command_a.seq}&status=OK",
            body=lambda world: "up 3 days",
            # Without seq (the invalid body's URL has only the key): 400.
            invalid=(lambda world: "up 3 days", "detail"),
            anonymous=403,
            outsider=403,
            member=403,
            admin=403,
            device_key=200,
            wrong_key=403,
        ),
        others=KEY_REFUSED,
    ),
    "device-commands": entry(
        kwargs=pk("device_a"),
        GET=call(
            "list", anonymous=401, outsider=404, member=403, admin=200, shows=(seen("command_a", ADMIN),)
        ),
        POST=call(
            "create",
            body=lambda world: {"action": "exec", "argument": "uptime"},
            invalid=(lambda world: {"action": "exec", "argument": ""}, "argument"),
            anonymous=401,
            outsider=404,
            member=403,
            admin=201,
        ),
    ),
    "command-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("command_a", ADMIN), seen("command_b", OUTSIDER)),
        ),
    ),
    "command-detail": entry(
        kwargs=pk("command_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=403, admin=200),
    ),
    "command-cancel": entry(
        kwargs=pk("command_a"),
        POST=call("cancel", anonymous=401, outsider=404, member=403, admin=200),
    ),
    "command-batch-list": entry(
        GET=call(
            "list",
            anonymous=401,
            outsider=200,
            member=200,
            admin=200,
            shows=(seen("batch_a", ADMIN), seen("batch_b", OUTSIDER)),
        ),
        POST=call(
            "create",
            body=lambda world: {"devices": [str(world.device_a.pk)], "action": "test"},
            invalid=(lambda world: {"devices": [str(world.device_a.pk)], "action": "format"}, "action"),
            anonymous=401,
            # A's device is unknown to the outsider: the 400 of a nonexistent id.
            outsider=400,
            member=403,
            admin=201,
        ),
    ),
    "command-batch-detail": entry(
        kwargs=pk("batch_a"),
        GET=call("retrieve", anonymous=401, outsider=404, member=403, admin=200),
    ),
}

# Personas an entry may add; each is an anonymous client plus this query string.
KEY_PERSONAS = {
    "device_key": lambda world: f"key={world.device_a.key}",
    "wrong_key": lambda world: f"key={world.device_b.key}",  # a real key, of another device
}
# Personas that send an Authorization header of their own: backup runners' tokens.
HEADER_PERSONAS = {
    RUNNER: lambda world: f"Bearer {world.runner_tokens['a']}",
    WRONG_RUNNER: lambda world: f"Bearer {world.runner_tokens['b']}",  # a real token, of organization B
}
# Personas of organization B: no list may show them anything of organization A.
FOREIGN = (OUTSIDER, WRONG_RUNNER)


# --------------------------------------------------------------------------------- the world
@dataclass
class World:
    """Organizations A and B, the personas' users and tokens, and one object of each kind per
    organization (``*_a`` are what the URLs point at, ``*_b`` what only the outsider sees)."""

    org_a: object
    org_b: object
    users: dict
    tokens: dict
    device_a: object
    device_b: object
    webhook_a: object
    webhook_b: object
    window_a: object
    window_b: object
    note_member: object
    note_admin: object
    note_outsider: object
    job_a: object = None
    job_b: object = None
    run_a: object = None  # ongoing
    finished_a: object = None
    run_b: object = None  # finished
    token_a: object = None
    token_b: object = None
    runner_tokens: dict | None = None
    command_a: object = None  # queued for device_a
    command_b: object = None
    batch_a: object = None
    batch_b: object = None
    enrollment_token_a: object = None
    enrollment_token_b: object = None
    enrollment_tokens: dict | None = None  # their texts
    enrollment_a: object = None  # pending
    enrollment_b: object = None
    iperf3_server_a: object = None
    iperf3_server_b: object = None
    ssh_a: object = None  # device_a's SSH credentials
    ssh_b: object = None
    spare_a: object = None  # a device of A without SSH credentials


@pytest.fixture
def world(db, timeseries, settings):
    from fleetwatch.inventory.models import Device, Membership, Organization
    from fleetwatch.monitoring.models import StatusChange
    from fleetwatch.notifications.models import MaintenanceWindow, Notification, Webhook

    # A loopback webhook URL is then valid without a DNS lookup; nothing is ever delivered.
    settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE = True
    # The usage collector is on, its per-address counts from zero (every persona is 127.0.0.1).
    settings.FLEETWATCH_USAGE_COLLECTOR = True
    cache.clear()
    org_a = Organization.objects.create(name="Org A", slug="org-a")
    org_b = Organization.objects.create(name="Org B", slug="org-b")
    users, tokens = {}, {}
    for persona, org, role in [
        (OUTSIDER, org_b, "admin"),
        (MEMBER, org_a, "member"),
        (ADMIN, org_a, "admin"),
    ]:
        users[persona] = get_user_model().objects.create_user(persona)  # no password: no hashing
        Membership.objects.create(user=users[persona], organization=org, role=role)
        tokens[persona] = Token.objects.create(user=users[persona]).key
    users[SUPERUSER] = get_user_model().objects.create_superuser(SUPERUSER)  # in no organization
    tokens[SUPERUSER] = Token.objects.create(user=users[SUPERUSER]).key
    device_a = Device.objects.create(organization=org_a, name="ap-a", mac_address="00:11:22:33:44:01")
    device_b = Device.objects.create(organization=org_b, name="ap-b", mac_address="00:11:22:33:44:02")
    # Both on the map (device-map-list).
    from fleetwatch.inventory.models import Location

    for device, org in ((device_a, org_a), (device_b, org_b)):
        device.location = Location.objects.create(
            organization=org, name=org.slug, latitude=41.39, longitude=2.17
        )
        device.save(update_fields=["location"])
    StatusChange.objects.create(device=device_a, previous="unknown", status="ok", time=START)

    def window(org):
        return MaintenanceWindow.objects.create(organization=org, start=START, end=START + timedelta(hours=1))

    def note(persona, org, device):
        return Notification.objects.create(
            user=users[persona], organization=org, device=device, kind="problem", title="down", time=START
        )

    from fleetwatch.backups.models import BackupJob, RunnerToken
    from fleetwatch.backups.runs import close_run, open_run

    job_a = BackupJob.objects.create(organization=org_a, section="s1", type="dump", datacenter="eqiad")
    job_b = BackupJob.objects.create(organization=org_b, section="s2", type="dump", datacenter="eqiad")
    finished_a, _ = open_run(job_a, start_date=START - timedelta(days=3))
    close_run(finished_a, "finished", end_date=START - timedelta(days=3) + timedelta(hours=1))
    run_a, _ = open_run(job_a, start_date=START - timedelta(days=2))  # START is ahead of the clock
    run_b, _ = open_run(job_b, start_date=START - timedelta(days=1))
    close_run(run_b, "finished", end_date=START - timedelta(hours=23))
    token_a, text_a = RunnerToken.issue(org_a, "dbprov-a")
    token_b, text_b = RunnerToken.issue(org_b, "dbprov-b")
    from fleetwatch.messaging.commands import queue, queue_batch

    batch_a = queue_batch([device_a], "test", "", users[ADMIN])
    batch_b = queue_batch([device_b], "test", "", users[OUTSIDER])
    command_a = queue(device_a, "exec", "uptime", users[ADMIN])
    command_b = queue(device_b, "exec", "uptime", users[OUTSIDER])

    from fleetwatch.inventory.models import Enrollment, EnrollmentToken

    enrollment_token_a, enrollment_text_a = EnrollmentToken.issue(org_a, "stations-a")
    enrollment_token_b, enrollment_text_b = EnrollmentToken.issue(org_b, "stations-b")

    def enrollment(org, token, serial):
        return Enrollment.objects.create(organization=org, token=token, serial=serial, name=serial)

    from fleetwatch.monitoring.models import Iperf3Server, SshCredentials

    def iperf3_server(org):
        return Iperf3Server.objects.create(organization=org, host="127.0.0.1", port=5201)

    def ssh(device):
        return SshCredentials.objects.create(device=device, username="root", password="router-password")

    return World(
        iperf3_server_a=iperf3_server(org_a),
        iperf3_server_b=iperf3_server(org_b),
        ssh_a=ssh(device_a),
        ssh_b=ssh(device_b),
        spare_a=Device.objects.create(organization=org_a, name="ap-spare"),
        command_a=command_a,
        command_b=command_b,
        batch_a=batch_a,
        batch_b=batch_b,
        enrollment_token_a=enrollment_token_a,
        enrollment_token_b=enrollment_token_b,
        enrollment_tokens={"a": enrollment_text_a, "b": enrollment_text_b},
        enrollment_a=enrollment(org_a, enrollment_token_a, "SG-A"),
        enrollment_b=enrollment(org_b, enrollment_token_b, "SG-B"),
        job_a=job_a,
        job_b=job_b,
        run_a=run_a,
        finished_a=finished_a,
        run_b=run_b,
        token_a=token_a,
        token_b=token_b,
        runner_tokens={"a": text_a, "b": text_b},
        org_a=org_a,
        org_b=org_b,
        users=users,
        tokens=tokens,
        device_a=device_a,
        device_b=device_b,
        webhook_a=Webhook.objects.create(organization=org_a, name="a", url="http://127.0.0.1:9/a"),
        webhook_b=Webhook.objects.create(organization=org_b, name="b", url="http://127.0.0.1:9/b"),
        window_a=window(org_a),
        window_b=window(org_b),
        note_member=note(MEMBER, org_a, device_a),
        note_admin=note(ADMIN, org_a, device_a),
        note_outsider=note(OUTSIDER, org_b, device_b),
    )


# --------------------------------------------------------------------------------- probing
def callers(item: Entry) -> list[tuple[str, str]]:
    """(persona, how it authenticates) for every run of an entry."""
    runs = []
    for persona in item.personas():
        if persona in (OUTSIDER, MEMBER, ADMIN, SUPERUSER):
            runs += [(persona, "session"), (persona, "token")]
        elif persona in HEADER_PERSONAS:
            runs.append((persona, "header"))
        else:
            runs.append((persona, "none"))
    return runs


def client_for(world: World, persona: str, auth: str) -> Client:
    # A server error is a status to compare (500), with its traceback in the captured log.
    if auth == "token":
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {world.tokens[persona]}")
    if auth == "header":
        return Client(raise_request_exception=False, HTTP_AUTHORIZATION=HEADER_PERSONAS[persona](world))
    client = Client(raise_request_exception=False)
    if auth == "session":
        client.force_login(world.users[persona])
    return client


def send(client: Client, method: str, url: str, body) -> object:
    """One request in a transaction that is rolled back: the world is the same for the next."""
    data = b"" if body is None else json.dumps(body)
    with transaction.atomic():
        response = client.generic(method, url, data, content_type="application/json")
        transaction.set_rollback(True)
    return response


def url_of(route: Route, item: Entry, world: World, query: str = "") -> str:
    kwargs = item.kwargs(world)
    if "format" in route.params:
        kwargs["format"] = "json"
    url = reverse(route.name, kwargs=kwargs)
    return f"{url}?{query}" if query else url


def shown(response) -> set[str]:
    return {str(item["id"]) for item in listed_items(response.json())}


def probe(route: Route, item: Entry, world: World) -> list[str]:
    """Every method as every persona against ``item``; one line per difference (empty: none)."""
    differences = []
    for persona, auth in callers(item):
        client = client_for(world, persona, auth)
        for method in PROBED:
            spec = item.calls.get("GET" if method == "HEAD" else method)
            queries = [spec.query(world)] if spec and spec.query else []
            if persona in KEY_PERSONAS:
                queries.append(KEY_PERSONAS[persona](world))
            url = url_of(route, item, world, "&".join(queries))
            body = spec.body(world) if spec and spec.body else None
            response = send(client, method, url, body)
            status, expected = response.status_code, item.expected(method)[persona]
            who = f"{method} {url} as {persona} ({auth})"
            if status != expected:
                differences.append(f"{who}: expected {expected}, got {status}: {response.content[:200]!r}")
                continue
            if status == 401 and response.get("WWW-Authenticate") != "Token":
                differences.append(f"{who}: a 401 without WWW-Authenticate: Token")
            if method == "HEAD":
                continue
            if item.json_errors and status >= 401 and "detail" not in json_object(response):
                differences.append(f"{who}: a {status} without a JSON detail: {response.content[:200]!r}")
            if spec and spec.action == "list" and status == 200:
                differences += [
                    f"{who}: {problem}" for problem in list_problems(spec, persona, response, world)
                ]
    return differences


def json_object(response) -> dict:
    if not response.get("Content-Type", "").startswith("application/json"):
        return {}
    body = response.json()
    return body if isinstance(body, dict) else {}


def list_problems(spec, persona: str, response, world: World) -> list[str]:
    """The ``seen(...)`` checks, and for the outsider: no item of organization A at all."""
    items = listed_items(response.json())
    ids = {str(item.get("id")) for item in items}
    problems = []
    for check in spec.shows:
        wanted = persona in check.personas
        if (str(getattr(world, check.attribute).pk) in ids) != wanted:
            problems.append(f"the list {'misses' if wanted else 'shows'} {check.attribute}")
    if persona in FOREIGN:
        org = str(world.org_a.pk)
        leaked = [item for item in items if org in (str(item.get("organization")), str(item.get("id")))]
        if leaked:
            problems.append(f"the list shows organization A's {leaked}")
    return problems


ROUTES = api_routes()


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_contract(route, world):
    item = CONTRACT.get(route.name)
    assert item is not None, "\n".join(coverage_problems([route], {}))
    differences = probe(route, item, world)
    assert not differences, "\n".join(differences)


CREATES = [
    (route, method)
    for route in ROUTES
    if route.name in CONTRACT and "format" not in route.params
    for method, spec in CONTRACT[route.name].calls.items()
    if spec.invalid
]


@pytest.mark.parametrize(("route", "method"), CREATES, ids=[f"{r.id}-{m}" for r, m in CREATES])
def test_an_invalid_body_is_a_400_naming_the_field_and_writes_nothing(route, method, world):
    """As the first persona the call succeeds for, an invalid body: 400 with field errors (or a
    ``detail``), and a list route lists the same objects afterwards."""
    item = CONTRACT[route.name]
    spec = item.calls[method]
    persona = next(p for p, s in spec.statuses.items() if 200 <= s < 300)
    # Anonymous succeeds first where no login is needed (the enrollment endpoint): no session then.
    auth = (
        "none"
        if persona in KEY_PERSONAS or persona == ANONYMOUS
        else "header"
        if persona in HEADER_PERSONAS
        else "session"
    )
    client = client_for(world, persona, auth)
    query = KEY_PERSONAS[persona](world) if persona in KEY_PERSONAS else ""
    url = url_of(route, item, world, query)
    make_invalid, name = spec.invalid
    readable = "GET" in item.calls and item.calls["GET"].action == "list"
    before = shown(client.get(url)) if readable else None
    response = client.generic(method, url, json.dumps(make_invalid(world)), content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    if name == "detail":
        assert isinstance(body["detail"], str)
        assert body["detail"]
    else:
        # The one error shape (fleetwatch.api.exceptions): every problem by field under
        # "errors", the first one repeated in "detail" as "<field>: <message>".
        assert list(body) == ["detail", "errors"]
        assert list(body["errors"]) == [name]
        messages = body["errors"][name]
        assert isinstance(messages, list)
        assert all(isinstance(message, str) and message for message in messages)
        assert body["detail"] == f"{name}: {messages[0]}"
    if readable:
        assert shown(client.get(url)) == before


DETAILS = [r for r in ROUTES if "pk" in r.params and "format" not in r.params and r.name in CONTRACT]


@pytest.mark.parametrize("missing", ["00000000-0000-4000-8000-000000000000", "not-a-pk"])
@pytest.mark.parametrize("route", DETAILS, ids=lambda route: route.id)
def test_an_unknown_or_malformed_id_is_a_404(route, missing, world):
    """For an administrator of A, every method the entry lists: 404 with a ``detail``, never a
    500 (a malformed id included, whether the URL pattern or the lookup refuses it)."""
    item = CONTRACT[route.name]
    real = str(item.kwargs(world)["pk"])
    client = client_for(world, ADMIN, "session")
    for method, spec in item.calls.items():
        url = url_of(route, item, world).replace(real, missing)
        body = spec.body(world) if spec.body else None
        response = send(client, method, url, body)
        assert (method, response.status_code) == (method, 404), response.content
        assert json_object(response)["detail"]


# --------------------------------------------------------------------------------- ids in bodies
UNKNOWN = "00000000-0000-4000-8000-0000000000ff"


def not_found(field: str, pk: str) -> dict:
    """The 400 for an id in a body that is unknown *to the caller* (fleetwatch.api.fields)."""
    message = f'Invalid pk "{pk}" - object does not exist.'
    return {"detail": f"{field}: {message}", "errors": {field: [message]}}


def location_a(world):
    from fleetwatch.inventory.models import Location

    return Location.objects.create(organization=world.org_a, name="lobby")


def org_b(world) -> str:
    return str(world.org_b.pk)


# (case, method, URL, body with the foreign id, the field): as the outsider (administrator of B),
# an id of organization A's must be answered exactly as an id nobody has.
FOREIGN_IDS = [
    ("device-organization", "POST", lambda w: "/api/v1/inventory/devices/", device_body, "organization"),
    (
        "device-location",
        "POST",
        lambda w: "/api/v1/inventory/devices/",
        lambda w: {"name": "ap-new", "organization": org_b(w), "location": str(location_a(w).pk)},
        "location",
    ),
    (
        "device-moved-to-organization",
        "PATCH",
        lambda w: f"/api/v1/inventory/devices/{w.device_b.pk}/",
        lambda w: {"organization": org_a(w)},
        "organization",
    ),
    (
        "webhook-organization",
        "POST",
        lambda w: "/api/v1/notifications/webhooks/",
        webhook_body,
        "organization",
    ),
    (
        "maintenance-organization",
        "POST",
        lambda w: "/api/v1/notifications/maintenance/",
        window_body,
        "organization",
    ),
    (
        "iperf3-server-organization",
        "POST",
        lambda w: "/api/v1/monitoring/iperf3-servers/",
        iperf3_server_body,
        "organization",
    ),
    (
        "ssh-credentials-device",
        "POST",
        lambda w: "/api/v1/monitoring/ssh-credentials/",
        lambda w: {**ssh_credentials_body(w), "device": str(w.spare_a.pk)},
        "device",
    ),
    (
        "maintenance-device",
        "POST",
        lambda w: "/api/v1/notifications/maintenance/",
        lambda w: {**window_body(w), "organization": org_b(w), "device": str(w.device_a.pk)},
        "device",
    ),
]


@pytest.mark.parametrize(
    ("url", "method", "make_url", "make_body", "field"), FOREIGN_IDS, ids=[c[0] for c in FOREIGN_IDS]
)
def test_another_organizations_id_in_a_body_is_answered_as_an_unknown_id(
    url, method, make_url, make_body, field, world
):
    """No body confirms that an id exists in another organization: its id and an id nobody has
    get the same 400, word for word (before, the organization was a 403 "not an administrator"
    and a device a 400 "belongs to another organization")."""
    client = client_for(world, OUTSIDER, "token")
    body = make_body(world)
    foreign = body[field]
    answers = []
    for value in (foreign, UNKNOWN):
        response = send(client, method, make_url(world), {**body, field: value})
        answers.append((response.status_code, response.json()))
    assert answers == [(400, not_found(field, foreign)), (400, not_found(field, UNKNOWN))]


def test_an_organization_you_only_read_is_a_403_in_a_body_as_in_a_path(world):
    """A member names their own organization (or its device): it exists for them, they may not
    write to it: 403, as for a change of one of its rows."""
    client = client_for(world, MEMBER, "token")
    denied = {"detail": "You are not an administrator of that organization."}
    for url, body in [
        ("/api/v1/inventory/devices/", device_body(world)),
        ("/api/v1/notifications/webhooks/", webhook_body(world)),
        ("/api/v1/notifications/maintenance/", {**window_body(world), "device": str(world.device_a.pk)}),
    ]:
        response = send(client, "POST", url, body)
        assert (url, response.status_code, response.json()) == (url, 403, denied)


# --------------------------------------------------------------------------------- the table itself
def test_every_route_has_an_entry_and_every_entry_a_route():
    assert coverage_problems(ROUTES, CONTRACT) == []


def test_every_entry_gives_every_persona_a_status():
    assert [problem for name, item in CONTRACT.items() for problem in entry_problems(name, item)] == []


def test_the_routes_found_include_router_actions_the_root_and_the_schema():
    ids = {route.id for route in ROUTES}
    assert {
        "api-root",
        "device-list",
        "device-detail",
        "webhook-deliveries",
        "notification-read-all",
        "health",
        "schema",
        "docs",
        "redoc",
        "device-monitoring",
    } <= ids
    # The router adds no format-suffix variants (the API speaks JSON only), so there is one
    # route per URL name.
    assert [route.id for route in ROUTES if "format" in route.params] == []
    assert len(ids) == len(ROUTES)


def test_suffix_variants_are_found_as_routes_of_their_own():
    """Should a router add ``.json`` variants again, each is probed as a route of its own."""
    urls = types.ModuleType("tests.api.contract_suffix_urls")
    urls.urlpatterns = [path("api/v1/", include(format_suffix_patterns([path("ping/", ping, name="ping")])))]
    sys.modules[urls.__name__] = urls
    try:
        found = api_routes(urls.__name__)
    finally:
        del sys.modules[urls.__name__]
    assert [(r.id, r.pattern, r.params) for r in found] == [
        ("ping", "api/v1/ping/", ()),
        ("ping.format", "api/v1/ping<drf_format_suffix:format>", ("format",)),
    ]


class GadgetViewSet(viewsets.ViewSet):
    """A viewset nobody wrote a contract entry for."""

    def list(self, request):
        return Response([])

    def retrieve(self, request, pk=None):
        return Response({})

    @action(detail=True, methods=["post"])
    def poke(self, request, pk=None):
        return Response({})


def ping(request):
    return JsonResponse({})


def test_a_route_added_without_an_entry_is_reported(settings, monkeypatch):
    router = SimpleRouter()
    router.register("gadgets", GadgetViewSet, basename="gadget")
    urls = types.ModuleType("tests.api.contract_dummy_urls")
    urls.urlpatterns = [
        path("api/v1/", include("fleetwatch.api_urls")),
        path("api/v1/extra/", include(router.urls)),
        path("api/v1/ping/", ping, name="ping"),
        path("api/v1/unnamed/", ping),
        path("elsewhere/", ping, name="elsewhere"),  # not under /api/v1/: not an endpoint
    ]
    monkeypatch.setitem(sys.modules, urls.__name__, urls)
    settings.ROOT_URLCONF = urls.__name__

    # The real routes are still there under the temporary URLconf: no entry is stale.
    problems = coverage_problems(api_routes(), CONTRACT)

    assert problems[0] == (
        "/api/v1/unnamed/ has no URL name: give it one (path(..., name=...) or a router basename) "
        "and add CONTRACT[name] = entry(...) in tests/api/test_contract.py"
    )
    assert problems[1] == (
        "route 'gadget-detail' (/api/v1/extra/gadgets/(?P<pk>[^/.]+)/) has no contract entry: add "
        "CONTRACT['gadget-detail'] = entry(...) in tests/api/test_contract.py with the status of "
        "every method for anonymous, outsider, member, admin"
    )
    assert [p.split("'")[1] for p in problems[1:]] == ["gadget-detail", "gadget-list", "gadget-poke", "ping"]


def test_an_entry_whose_route_is_gone_is_reported():
    assert coverage_problems(ROUTES, {**CONTRACT, "gadget-list": entry()}) == [
        "CONTRACT['gadget-list'] names no route under /api/v1/: remove the entry or fix its name"
    ]


def test_an_incomplete_entry_is_reported():
    item = entry(
        GET=call("create", anonymous=401, outsider=404, member=200),
        PUT=call("update", anonymous=401, outsider=404, member=403, admin=200),
    )
    assert entry_problems("thing", item) == [
        "thing GET: no status for admin",
        "thing GET: 'create' is a POST action",
        "thing GET: a write that succeeds needs a valid body",
        "thing PUT: a write that succeeds needs a valid body",
    ]


def test_the_probe_reports_a_status_the_contract_does_not_expect(world):
    route = next(r for r in ROUTES if r.name == "device-detail" and "format" not in r.params)
    right = CONTRACT["device-detail"]
    # Wrong on purpose: an outsider reading A's device would be a leak; the probe says it is not.
    leak = call("retrieve", anonymous=401, outsider=200, member=200, admin=200)
    wrong = Entry({**right.calls, "GET": leak}, right.others, right.kwargs)
    url = f"/api/v1/inventory/devices/{world.device_a.pk}/"
    assert probe(route, right, world) == []
    detail = repr(b'{"detail":"No Device matches the given query."}')
    assert probe(route, wrong, world) == [
        f"HEAD {url} as outsider (session): expected 200, got 404: b''",
        f"GET {url} as outsider (session): expected 200, got 404: {detail}",
        f"HEAD {url} as outsider (token): expected 200, got 404: b''",
        f"GET {url} as outsider (token): expected 200, got 404: {detail}",
    ]
