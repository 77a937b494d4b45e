"""The base viewset of organization-scoped rows (devices, webhooks, maintenance windows …).

A row has an ``organization``. Members of that organization read it, its administrators write
it, also when creating it in or moving it to another organization (they must administer that
one too: 403 otherwise). Rows of other organizations are 404. Lists are paginated and filtered
by the viewset's ``filterset_class`` (django-filter), settings in ``REST_FRAMEWORK``.
"""

from __future__ import annotations

from rest_framework import permissions, viewsets
from rest_framework.exceptions import PermissionDenied

from fleetwatch.api.permissions import OrganizationAdminWrites
from fleetwatch.api.querysets import Scope, scoped
from fleetwatch.inventory.models import administers

# Path ids: a UUID (any spelling Python reads) or a database integer id. Anything else never
# reaches the database (a 404 from the URL resolver), whatever its length.
UUID_LOOKUP = "[0-9a-fA-F-]{32,36}"
INTEGER_LOOKUP = "[0-9]{1,18}"


class OrganizationScopedViewSet(viewsets.ModelViewSet):
    """CRUD of ``queryset`` scoped to the user's organizations.

    Subclasses set ``queryset`` (the model's ``objects``, with any ``select_related``),
    ``serializer_class`` and optionally ``scope = "manageable"`` (only administrators see the
    rows at all, e.g. webhooks and their secrets) and ``ordering`` (unique, for stable pages)."""

    permission_classes = [permissions.IsAuthenticated, OrganizationAdminWrites]
    lookup_value_regex = UUID_LOOKUP
    scope: Scope = "visible"
    ordering: tuple[str, ...] = ("pk",)

    def get_queryset(self):
        return scoped(self.queryset, self.request.user, self.scope).order_by(*self.ordering)

    def _check_organization(self, organization) -> None:
        if not administers(self.request.user, organization.pk):
            raise PermissionDenied("You are not an administrator of that organization.")

    def perform_create(self, serializer):
        self._check_organization(serializer.validated_data["organization"])
        serializer.save()

    def perform_update(self, serializer):
        self._check_organization(
            serializer.validated_data.get("organization", serializer.instance.organization)
        )
        serializer.save()
