"""Related-row fields of the REST API's bodies, scoped to the requesting user.

An id in a body (``"organization": "<uuid>"``, ``"device": …``) is looked up only among the rows
the user may see (``visible_to``, see :mod:`fleetwatch.api.querysets`). Another organization's id
is then refused exactly like an id that does not exist (400, the same message), so a body cannot
confirm that a row exists elsewhere, as a path cannot (404). A row the user sees but may not
change (a member naming their own organization) passes here and is refused by the view's
permission check (403), as it is in a path.
"""

from __future__ import annotations

from rest_framework import serializers

from fleetwatch.api.querysets import Scope, scoped


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """``PrimaryKeyRelatedField`` over ``queryset`` narrowed to the request's user (``scope``:
    ``"visible"`` or ``"manageable"``). Without a request in the serializer's context no id is
    accepted (there is no user to scope by). Refused ids: DRF's ``does_not_exist`` message,
    ``Invalid pk "<id>" - object does not exist.``, for another organization's and for an unknown
    id alike; a malformed one: ``incorrect_type``."""

    def __init__(self, *, scope: Scope = "visible", **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return scoped(super().get_queryset(), getattr(request, "user", None), self.scope)
