"""The OpenWrt config agent's protocol (``openwisp-config``, ``agents.md``, Registration), under
``/controller/``: a router registers itself with its organization's shared secret, then polls
for its configuration, which Fleetwatch does not manage: it serves an empty configuration so
that the agent applies it once and settles.

- ``POST /controller/register/``, form fields ``secret``, ``backend``, ``name``,
  ``mac_address`` (required), ``key`` (the agent's "consistent key", ``md5(<mac or hardware
  id>+<secret>)``), ``hardware_id``, ``model``, ``os``, ``system``, ``management_ip``, ``tags``
  (ignored: no templates here). **201** ``text/plain``::

      registration-result: success
      uuid: <device uuid>
      key: <device key>
      hostname: <device name>
      is-new: 1

  A device of the organization with that ``key`` is the same device again (a re-flashed router):
  its name (unless the agent sent its MAC address as name) and facts are updated, ``is-new: 0``.
  Without a key a new device is made, with the key the agent would have computed (as
  openwisp-controller does), and a second device with the same MAC address in the organization
  is refused (400), as there: MAC addresses are never matched (anyone may claim one), keys are.
- ``GET /controller/checksum/<uuid>/?key=`` → the MD5 (hex, no newline) of the configuration
  archive; ``GET /controller/download-config/<uuid>/?key=`` → that archive, an empty tar.gz.
- ``POST /controller/update-info/<uuid>/`` (``key``, ``model``, ``os``, ``system``) stores the
  facts; ``POST /controller/report-status/<uuid>/`` (``key``, ``status``, ``error_reason``) is
  logged (the configuration's status has no meaning here: there is none to apply).

Every answer, errors included, carries ``X-Openwisp-Controller: true`` (without it the agent
exits, "Invalid url"); errors are ``text/plain`` lines ``error: …`` as the agent logs them.
Statuses as the agent reads them: 403 makes it give up registering for good (wrong secret,
wrong key), 404 on the checksum makes it stop after retries (device deleted), anything else is
retried. UUIDs are answered in their dashed form (openwisp-controller answers 32 hex digits):
the monitoring agent puts the UUID in ``/api/v1/monitoring/device/<uuid>/``, whose route takes
the dashed form; both forms are accepted here.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import ipaddress
import logging
import re
import tarfile
import uuid
from functools import wraps

from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.http import HttpResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from fleetwatch.inventory.models import Device, Organization

log = logging.getLogger(__name__)

HEADER = "X-Openwisp-Controller"
# The configuration backends of the agent (netjsonconfig); any other is refused as the peer does.
BACKENDS = ("netjsonconfig.OpenWrt", "netjsonconfig.OpenWisp")
# The configuration statuses the agent reports (openwisp-controller's Config.STATUS).
CONFIG_STATUSES = ("applied", "error", "modified", "deactivating", "deactivated")
# A key is the device's only credential for the monitoring agent: the consistent key is 32 hex
# digits (MD5); shorter ones would be guessable, other characters would break the agent's URLs.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Form fields stored on the Device: name -> its longest value (the model's column).
FACTS = {"hardware_id": 64, "model": 64, "os": 128, "system": 128}
RETRY_AFTER_SECONDS = 30


def _empty_archive() -> bytes:
    """An empty tar archive, gzipped with a fixed header (mtime 0, no name): the same bytes on
    every call, so the checksum answered before the download is the download's MD5."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w", format=tarfile.USTAR_FORMAT):
        pass
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as compressed:
        compressed.write(tar.getvalue())
    return out.getvalue()


ARCHIVE = _empty_archive()
CHECKSUM = hashlib.md5(ARCHIVE).hexdigest()  # the agent compares MD5s (not a security use)


def answer(text: str, status: int = 200, content_type: str = "text/plain") -> HttpResponse:
    response = HttpResponse(text, status=status, content_type=content_type)
    response[HEADER] = "true"
    return response


def error(text: str, status: int) -> HttpResponse:
    return answer(f"error: {text}\n", status)


class Refused(Exception):
    """A request answered with an ``error: …`` line and ``status``."""

    def __init__(self, text: str, status: int):
        super().__init__(text)
        self.text, self.status = text, status


def controller_view(*methods: str):
    """A ``/controller/`` view: csrf-exempt, ``methods`` only (405 otherwise), ``Refused`` as
    its answer, and no answer without the controller header: a body Django cannot read is a
    400, a database that is down a 503 with Retry-After."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(f"method {request.method} not allowed", 405)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except Refused as exc:
                return error(exc.text, exc.status)
            except (SuspiciousOperation, UnreadablePostError, MultiPartParserError) as exc:
                # Too many fields, a body over Django's limits, a broken multipart body.
                return error(f"unreadable request ({type(exc).__name__})", 400)
            except (OperationalError, InterfaceError) as exc:
                log.warning("controller request not served, database unavailable: %s", exc)
                response = error("the database is unavailable; retry later", 503)
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return response

        return wrapper

    return decorate


def field(data, name: str, *, required: bool = False, max_length: int = 64) -> str:
    """The form field ``name`` stripped ("" if absent); ``Refused`` (400) if required and
    empty, longer than ``max_length`` or holding control characters."""
    value = data.get(name, "").strip()
    if not value:
        if required:
            raise Refused(f'missing required parameter "{name}"', 400)
        return ""
    if len(value) > max_length:
        raise Refused(f'invalid parameter "{name}": at most {max_length} characters', 400)
    if CONTROL.search(value):
        raise Refused(f'invalid parameter "{name}": control characters', 400)
    return value


def mac_address(data) -> str:
    """The ``mac_address`` field, normalized as the Device model keeps it (lowercase, ``:``)."""
    candidate = Device(mac_address=field(data, "mac_address", required=True, max_length=17))
    try:
        candidate.clean()
    except ValidationError as exc:
        raise Refused(f'invalid parameter "mac_address": {exc.message_dict["mac_address"][0]}', 400) from None
    return candidate.mac_address


def management_ip(data) -> str | None:
    text = field(data, "management_ip", max_length=45)
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise Refused('invalid parameter "management_ip": not an IP address', 400) from None


def organization_of(secret: str) -> Organization:
    """The active organization whose registration secret is ``secret``; ``Refused`` (403)
    otherwise: no secret, an unknown one, one shared by two organizations (ambiguous), or
    registration turned off (an empty secret never matches)."""
    if not secret:
        raise Refused("unrecognized secret", 403)
    found = list(Organization.objects.filter(registration_secret=secret, is_active=True)[:2])
    if len(found) != 1:
        if found:
            log.warning("registration refused: %d organizations share one registration secret", len(found))
        raise Refused("unrecognized secret", 403)
    return found[0]


def _same_as_mac(name: str, mac: str) -> bool:
    """Whether ``name`` is the MAC address ``mac`` (the agent's name for a router still named
    ``OpenWrt``), in any of its spellings."""

    def bare(text):
        return text.replace(":", "").replace("-", "").lower()

    return bool(mac) and bare(name) == bare(mac)


@controller_view("POST")
def register(request):
    """``POST /controller/register/``: 201 with the device's identity, new or known by its key."""
    data = request.POST
    organization = organization_of(data.get("secret", ""))
    backend = field(data, "backend", required=True, max_length=64)
    if backend not in BACKENDS:
        raise Refused("wrong backend", 403)
    name = field(data, "name", required=True, max_length=64)
    mac = mac_address(data)
    # Without a key, the consistent key of the MAC address as the agent sent it (its own spelling).
    derived = hashlib.md5(
        f"{data['mac_address'].strip()}+{organization.registration_secret}".encode()
    ).hexdigest()
    key = field(data, "key", max_length=64)
    if key and not KEY_PATTERN.fullmatch(key):
        raise Refused('invalid parameter "key": 16 to 64 letters, digits, "_" or "-"', 400)
    facts = {fact: field(data, fact, max_length=length) for fact, length in FACTS.items()}
    address = management_ip(data)
    try:
        device, new = _register(organization, name, mac, key, derived, facts, address)
    except IntegrityError:
        # Two registrations of one device at once: the other one made it; this one finds it.
        device, new = _register(organization, name, mac, key, derived, facts, address)
    log.info(
        "%s device %s (%s) registered in %s by the config agent",
        "new" if new else "known",
        device.pk,
        device.name,
        organization.slug,
    )
    body = (
        "registration-result: success\n"
        f"uuid: {device.pk}\n"
        f"key: {device.key}\n"
        f"hostname: {device.name}\n"
        f"is-new: {int(new)}\n"
    )
    return answer(body, 201)


def _register(organization, name, mac, key, derived, facts, address) -> tuple[Device, bool]:
    with transaction.atomic():
        device = None
        if key:
            device = Device.objects.select_for_update().filter(key=key).first()
            if device is not None and device.organization_id != organization.pk:
                # Another organization's device key: never confirmed, never reused; the new
                # device gets a key of its own (the agent stores whatever key it is answered).
                device, key = None, ""
        if device is not None:
            if not device.is_active:
                raise Refused("device deactivated", 403)
            if not _same_as_mac(name, device.mac_address):
                device.name = name
            for fact, value in facts.items():
                setattr(device, fact, value)
            if address:
                device.management_ip = address
            device.save(update_fields=["name", *facts, "management_ip"])
            return device, False
        if Device.objects.filter(organization=organization, mac_address=mac).exists():
            raise Refused(
                "a device with this MAC address already exists in the organization "
                "(register with its consistent key to get its identity back)",
                400,
            )
        fields = dict(organization=organization, name=name, mac_address=mac, management_ip=address, **facts)
        if not key and not Device.objects.filter(key=derived).exists():
            key = derived
        if key:  # else a random one (the model's default)
            fields["key"] = key
        return Device.objects.create(**fields), True


def device_of(pk: str) -> Device:
    """The active device ``pk`` (dashed or 32 hex digits) of an active organization; ``Refused``
    (404) otherwise."""
    try:
        pk = uuid.UUID(pk)
    except ValueError:
        raise Refused("device not found", 404) from None
    device = Device.objects.filter(pk=pk, is_active=True, organization__is_active=True).first()
    if device is None:
        raise Refused("device not found", 404)
    return device


def check_key(device: Device, data) -> None:
    key = data.get("key", "")
    if not key:
        raise Refused('missing required parameter "key"', 400)
    if not hmac.compare_digest(device.key.encode(), key.encode()):
        raise Refused("wrong key", 403)


@controller_view("GET")
def checksum(request, pk):
    """The configuration's MD5; ``management_ip=`` (the agent's management interface address),
    when valid, is stored on the device."""
    device = device_of(pk)
    check_key(device, request.GET)
    try:
        address = management_ip(request.GET)
    except Refused:
        address = None  # the checksum poll must not fail over an unusable address
    if address and address != device.management_ip:
        Device.objects.filter(pk=device.pk).update(management_ip=address)
    return answer(CHECKSUM)


@controller_view("GET")
def download_config(request, pk):
    device = device_of(pk)
    check_key(device, request.GET)
    response = answer(ARCHIVE, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{device.pk}.tar.gz"'
    return response


@controller_view("POST")
def update_info(request, pk):
    """The agent's facts at start-up: non-empty ``model``, ``os``, ``system`` are stored."""
    device = device_of(pk)
    check_key(device, request.POST)
    facts = {fact: field(request.POST, fact, max_length=FACTS[fact]) for fact in ("model", "os", "system")}
    facts = {fact: value for fact, value in facts.items() if value}
    if facts:
        Device.objects.filter(pk=device.pk).update(**facts)
    return answer("update-info: success")


@controller_view("POST")
def report_status(request, pk):
    """The agent's "configuration applied" (or "error", with ``error_reason``): logged."""
    device = device_of(pk)
    check_key(device, request.POST)
    status = request.POST.get("status", "")
    if not status:
        raise Refused('missing required parameter "status"', 400)
    if status not in CONFIG_STATUSES:
        raise Refused("wrong status", 403)
    if status == "error":
        reason = request.POST.get("error_reason", "")[:1000]
        log.warning("device %s (%s): configuration error reported: %r", device.pk, device.name, reason)
    else:
        log.info("device %s (%s): configuration %s", device.pk, device.name, status)
    return answer(f"report-result: success\ncurrent-status: {status}\n")


@controller_view("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
def not_found(request, path=""):
    """Any other ``/controller/`` URL: a 404 that still says it comes from a controller."""
    raise Refused("not found", 404)
