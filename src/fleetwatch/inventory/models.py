"""Inventory models. Organization-owned models use ``OrgScopedQuerySet.visible_to`` so that
views never filter by organization by hand."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.text import slugify


def new_device_key() -> str:
    return secrets.token_hex(16)


def new_registration_secret() -> str:
    """An organization's shared secret for the OpenWrt config agent's registration
    (``option shared_secret`` on the device; ``agents.md``, Registration)."""
    return secrets.token_hex(16)


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    MEMBER = "member", "Member"


class OrgScopedQuerySet(models.QuerySet):
    """``visible_to(user)``: rows of the organizations the user belongs to (all for superusers);
    ``manageable_by(user)``: rows of the organizations the user administers."""

    org_path = "organization"

    def visible_to(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(**{f"{self.org_path}__memberships__user": user}).distinct()

    def manageable_by(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(
            **{
                f"{self.org_path}__memberships__user": user,
                f"{self.org_path}__memberships__role": Role.ADMIN,
            }
        ).distinct()


class OrganizationQuerySet(OrgScopedQuerySet):
    def visible_to(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user).distinct()

    def manageable_by(self, user):
        if not user or not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user, memberships__role=Role.ADMIN).distinct()


def administers(user, organization_id) -> bool:
    """Whether ``user`` administers the organization (superusers administer every one): who may
    change its rows and read its device keys (a key is the agent's only credential, so members,
    who read but do not change, never get it)."""
    return Organization.objects.manageable_by(user).filter(pk=organization_id).exists()


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    is_active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    # The OpenWrt config agent registers with it (POST /controller/register/); "" turns that off.
    registration_secret = models.CharField(max_length=64, blank=True, default=new_registration_secret)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        super().save(*args, **kwargs)


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="one_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Location(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Device(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="devices")
    name = models.CharField(max_length=64)
    mac_address = models.CharField(max_length=17, blank=True)
    key = models.CharField(max_length=64, default=new_device_key, unique=True)
    is_active = models.BooleanField(default=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    management_ip = models.GenericIPAddressField(null=True, blank=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="devices"
    )
    created = models.DateTimeField(auto_now_add=True)
    # What the device said of itself when it registered (config agent form fields, enrollment).
    # A station's serial (Sensorgnome SGID, machine id) identifies it within its organization.
    serial = models.CharField(max_length=64, blank=True)
    hardware_id = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=128, blank=True)
    system = models.CharField(max_length=128, blank=True)

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # The fleet list's sorts (fleetwatch.web.fleet), each covering the organization and the
        # id, so that a page's ids are read from the index alone, also for a member (issue 18:
        # 100,000 devices).
        indexes = [
            models.Index(fields=["name", "organization", "id"], name="device_by_name"),
            models.Index(fields=["last_seen", "organization", "id"], name="device_by_last_seen"),
            models.Index(fields=["mac_address", "organization", "id"], name="device_by_mac"),
            models.Index(fields=["organization", "name", "id"], name="device_by_org_name"),
            models.Index(fields=["organization", "is_active", "id"], name="device_by_org_active"),
            models.Index(fields=["is_active", "organization"], name="device_by_active"),
            # The fleet map (/api/v1/inventory/device-map/): an organization's located devices.
            models.Index(fields=["organization", "location", "id"], name="device_by_org_location"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "serial"],
                condition=~models.Q(serial=""),
                name="one_device_per_serial",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.location_id and self.location.organization_id != self.organization_id:
            raise ValidationError({"location": "The location belongs to another organization."})
        if self.mac_address:
            mac = self.mac_address.replace("-", ":").lower()
            parts = mac.split(":")
            if len(parts) != 6 or not all(
                len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts
            ):
                raise ValidationError({"mac_address": "Enter a MAC address like 00:11:22:33:44:55."})
            self.mac_address = mac


ENROLLMENT_TOKEN_PREFIX = "fwe_"


def hash_secret(text: str) -> str:
    """SHA-256 hex of a credential: what is stored of enrollment tokens (shown once)."""
    return hashlib.sha256(text.encode()).hexdigest()


class EnrollmentTokenQuerySet(OrgScopedQuerySet):
    def find(self, token: str):
        """The row of ``token`` (valid or not: the caller tells expired from revoked), or None."""
        if not token or not token.startswith(ENROLLMENT_TOKEN_PREFIX):
            return None
        return self.select_related("organization").filter(token_hash=hash_secret(token)).first()


class EnrollmentToken(models.Model):
    """A per-organization credential with which stations and hosts enroll themselves
    (``POST /api/v1/enroll/``). Expiring and revocable; only its SHA-256 is stored and the token
    (``fwe_…``) is shown once. With ``requires_approval`` a new device waits for an administrator
    (an :class:`Enrollment` in state ``pending``) before it gets credentials."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="enrollment_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False)  # shown in lists to tell tokens apart
    requires_approval = models.BooleanField(default=False)
    expires = models.DateTimeField(null=True, blank=True)  # None: until revoked
    revoked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used = models.DateTimeField(null=True, blank=True)

    objects = EnrollmentTokenQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, organization: Organization, name: str, **fields) -> tuple[EnrollmentToken, str]:
        """Create a token; returns the row and the token text (never stored in clear)."""
        token = ENROLLMENT_TOKEN_PREFIX + secrets.token_urlsafe(30)
        row = cls.objects.create(
            organization=organization, name=name, token_hash=hash_secret(token), prefix=token[:10], **fields
        )
        return row, token

    def refusal(self, now: datetime) -> str | None:
        """Why the token may not enroll anything at ``now`` (None: it may)."""
        if self.revoked is not None:
            return "The enrollment token has been revoked."
        if self.expires is not None and self.expires <= now:
            return "The enrollment token has expired."
        if not self.organization.is_active:
            return "The organization is deactivated."
        return None


class EnrollmentStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Enrollment(models.Model):
    """A station's or host's request to join an organization, one per (organization, serial):
    the enrollment's audit record, and the approval queue when its token requires approval. The
    device exists once the enrollment is approved (at once without approval)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="enrollments")
    token = models.ForeignKey(
        EnrollmentToken, null=True, on_delete=models.SET_NULL, related_name="enrollments"
    )
    serial = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    # What the device said of itself: hardware_id, model, os, system, mac_address, agent, address.
    facts = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=EnrollmentStatus.choices, default=EnrollmentStatus.PENDING
    )
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollments"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_attempt = models.DateTimeField(null=True, blank=True)
    decided = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "serial"], name="one_enrollment_per_serial")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.serial}, {self.status})"
