"""Permissions of the REST API, organization-scoped (see :mod:`fleetwatch.api.querysets`).

Rows of organizations the user does not belong to are never found (404), so these classes
only decide between members (read) and administrators (write) of the row's organization."""

from __future__ import annotations

from rest_framework import permissions


class OrganizationAdminWrites(permissions.BasePermission):
    """Members read (safe methods); writes need an administrator of the row's organization
    (a superuser is one everywhere). Denied: 403 with :attr:`message`."""

    message = "Only an administrator of the organization may change this."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return type(obj).objects.manageable_by(request.user).filter(pk=obj.pk).exists()
