"""Enrollment of stations and hosts: the one lifecycle behind ``POST /api/v1/enroll/`` and the
administrators' approvals (REST, admin site).

A device enrolls with its organization's enrollment token and its serial; the serial identifies
it within the organization, so the same serial enrolling again (a re-imaged station) gets the
same device and credentials back. One :class:`~fleetwatch.inventory.models.Enrollment` per
(organization, serial) records what the device said of itself and when it last tried; with a
token that ``requires_approval`` it waits (``pending``) until an administrator approves it
(the device is made then) or rejects it (every later attempt is refused).

Writes happen in one transaction: a refusal writes nothing but the enrollment's
``last_attempt``. The device's broker account is not made here (the messaging app builds on
inventory, not the reverse): the callers that answer credentials, the REST views
(``fleetwatch.inventory.api.enrollment``), call :func:`fleetwatch.messaging.broker.account_of`
after the commit (a network call, outside the transaction; a broker that does not answer leaves
the account to the worker's retry pass). An approval made elsewhere (the admin site) leaves the
account to the device's next enrollment request, which makes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from fleetwatch.inventory.models import Device, Enrollment, EnrollmentStatus, EnrollmentToken

# Facts kept on the Device (the rest stay in Enrollment.facts only).
DEVICE_FACTS = ("hardware_id", "model", "os", "system", "mac_address")
REJECTED = "The enrollment of this device has been rejected by an administrator of the organization."
DEACTIVATED = "The device is deactivated."
PENDING = "The enrollment awaits approval by an administrator of the organization; retry later."


class EnrollmentRefused(Exception):
    """403: the token may not enroll (revoked, expired) or this device may not (rejected,
    deactivated); ``detail`` says which."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@dataclass
class Outcome:
    """``status``: ``"pending"`` or ``"approved"``; ``device`` once approved; ``created``: the
    device was made by this request (201, else 200)."""

    enrollment: Enrollment
    status: str
    device: Device | None = None
    created: bool = False


def _device_fields(enrollment: Enrollment) -> dict:
    facts = enrollment.facts
    return {fact: facts.get(fact, "") for fact in DEVICE_FACTS}


def _make_device(enrollment: Enrollment) -> tuple[Device, bool]:
    """The device of the enrollment's serial: the existing one of the organization (an
    administrator made it with that serial), else a new one named as the device asked."""
    device = Device.objects.filter(
        organization_id=enrollment.organization_id, serial=enrollment.serial
    ).first()
    if device is not None:
        return device, False
    device = Device.objects.create(
        organization_id=enrollment.organization_id,
        name=enrollment.name,
        serial=enrollment.serial,
        **_device_fields(enrollment),
    )
    return device, True


def enroll(token: EnrollmentToken, serial: str, name: str, facts: dict, now: datetime) -> Outcome:
    """Enroll the device ``serial`` with ``token`` (already found: an unknown token is the
    caller's 401). ``facts``: what the device said (hardware_id, model, os, system,
    mac_address, agent, address), only the non-empty ones. Raises :class:`EnrollmentRefused`.
    Retried once if another request for the same serial committed first."""
    refusal = token.refusal(now)
    if refusal is not None:
        raise EnrollmentRefused(refusal)
    try:
        outcome = _enroll(token, serial, name, facts, now)
    except IntegrityError:  # the same serial enrolling twice at once: the other one won
        outcome = _enroll(token, serial, name, facts, now)
    if outcome.status == EnrollmentStatus.APPROVED:
        EnrollmentToken.objects.filter(pk=token.pk).update(last_used=now)
    return outcome


def _enroll(token, serial, name, facts, now) -> Outcome:
    refused = None
    with transaction.atomic():
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(organization_id=token.organization_id, serial=serial)
            .first()
        )
        if enrollment is None:
            enrollment = Enrollment.objects.create(
                organization_id=token.organization_id,
                token=token,
                serial=serial,
                name=name or serial,
                facts=facts,
                last_attempt=now,
            )
        else:
            enrollment.last_attempt = now
            if enrollment.status == EnrollmentStatus.REJECTED:
                refused = REJECTED
            elif enrollment.device_id is not None and not enrollment.device.is_active:
                refused = DEACTIVATED
            if refused is not None:  # what a refusal writes: the attempt, nothing else
                enrollment.save(update_fields=["last_attempt"])
            else:
                enrollment.facts = {**enrollment.facts, **facts}
                enrollment.token = token
                if name and enrollment.device_id is None:  # its device is not made yet: named as asked
                    enrollment.name = name
                if enrollment.status == EnrollmentStatus.APPROVED and enrollment.device_id is None:
                    # Approved once, but its device has been deleted since: a new request.
                    enrollment.status = EnrollmentStatus.PENDING
                    enrollment.decided = enrollment.decided_by = None
                enrollment.save()
        if refused is None:
            return _settle(enrollment, token, now)
    raise EnrollmentRefused(refused)


def _settle(enrollment: Enrollment, token: EnrollmentToken, now: datetime) -> Outcome:
    """Inside the transaction: approve a pending enrollment whose token needs no approval, and
    bring an approved device's facts up to date."""
    if enrollment.status == EnrollmentStatus.PENDING:
        if token.requires_approval:
            return Outcome(enrollment, EnrollmentStatus.PENDING)
        device, created = _make_device(enrollment)
        if not device.is_active:  # the organization's device of that serial, deactivated
            raise EnrollmentRefused(DEACTIVATED)
        enrollment.status, enrollment.device, enrollment.decided = EnrollmentStatus.APPROVED, device, now
        enrollment.save(update_fields=["status", "device", "decided"])
        return Outcome(enrollment, EnrollmentStatus.APPROVED, device, created)
    device = enrollment.device
    changed = {f: v for f, v in _device_fields(enrollment).items() if v and getattr(device, f) != v}
    if changed:
        for fact, value in changed.items():
            setattr(device, fact, value)
        device.save(update_fields=list(changed))
    return Outcome(enrollment, EnrollmentStatus.APPROVED, device, False)


def approve(enrollment: Enrollment, user, now: datetime) -> Enrollment:
    """An administrator's approval: the device is made (or the organization's device with that
    serial is taken). Idempotent: approving an approved
    enrollment whose device exists changes nothing."""
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if enrollment.status == EnrollmentStatus.APPROVED and enrollment.device_id is not None:
            return enrollment
        device, _ = _make_device(enrollment)
        enrollment.status, enrollment.device = EnrollmentStatus.APPROVED, device
        enrollment.decided, enrollment.decided_by = now, user
        enrollment.save(update_fields=["status", "device", "decided", "decided_by"])
    return enrollment


def reject(enrollment: Enrollment, user, now: datetime) -> Enrollment:
    """An administrator's rejection of a pending enrollment: every later attempt of the device
    is refused (403). Idempotent. An approved enrollment is not rejected (``ValueError``): its
    device is deactivated or deleted instead."""
    with transaction.atomic():
        enrollment = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if enrollment.status == EnrollmentStatus.REJECTED:
            return enrollment
        if enrollment.status == EnrollmentStatus.APPROVED and enrollment.device_id is not None:
            raise ValueError(
                "The enrollment is approved and its device exists: deactivate or delete the device instead."
            )
        enrollment.status, enrollment.device = EnrollmentStatus.REJECTED, None
        enrollment.decided, enrollment.decided_by = now, user
        enrollment.save(update_fields=["status", "device", "decided", "decided_by"])
    return enrollment
