"""Querysets of the REST API: every row is seen through its organization.

``visible_to(user)`` and ``manageable_by(user)`` are the model managers' own
(``fleetwatch.inventory.models.OrgScopedQuerySet``); these helpers apply them the same way in
every view, and turn "not yours" into the same 404 as "does not exist"."""

from __future__ import annotations

from typing import Literal

from django.db.models import QuerySet
from django.http import Http404

Scope = Literal["visible", "manageable"]


def scoped(queryset: QuerySet, user, scope: Scope = "visible") -> QuerySet:
    """``queryset`` narrowed to the rows of organizations ``user`` belongs to (``visible``) or
    administers (``manageable``); nothing for an anonymous user."""
    if scope == "visible":
        return queryset.visible_to(user)
    if scope == "manageable":
        return queryset.manageable_by(user)
    raise ValueError(f"unknown scope {scope!r}")


def visible_or_404(queryset: QuerySet, user, message: str = "Not found.", **lookup):
    """The one row matching ``lookup`` among those ``user`` may see; ``Http404(message)``
    otherwise (also for another organization's row)."""
    found = scoped(queryset, user).filter(**lookup).first()
    if found is None:
        raise Http404(message)
    return found
