"""Inventory models. Organization-owned models use ``OrgScopedQuerySet.visible_to`` so that
views never filter by organization by hand."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.text import slugify


def new_device_key() -> str:
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

    objects = OrgScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

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
