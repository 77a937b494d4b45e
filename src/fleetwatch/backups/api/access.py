"""Who may use the backups API, and which rows each caller sees.

Two kinds of callers:

- **people** (``Authorization: Token …`` or a session), as everywhere in the REST API: members of
  an organization read its jobs and runs, its administrators also write them (create jobs, open
  and close runs, issue runner tokens);
- **runners**, with a per-organization runner token (``Authorization: Bearer fwb_…``,
  :class:`~fleetwatch.backups.models.RunnerToken`): they read their organization's jobs and runs,
  open, fill and close runs, read the A.7 answers and the Prometheus metrics. Nothing else: the
  token is unknown to every other endpoint of the API (401 there, as no credentials), and on
  the backups endpoints a runner may not write jobs nor see tokens (403).

Rows of other organizations are 404 for both, as in the rest of the API.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, permissions
from rest_framework.exceptions import AuthenticationFailed

from fleetwatch.api.querysets import Scope, scoped
from fleetwatch.backups.models import RunnerToken
from fleetwatch.inventory.models import administers

# last_used is written at most this often per token (not on every request of a busy runner).
LAST_USED_EVERY = timedelta(minutes=1)


class Runner:
    """The principal of a request authenticated with a runner token (``request.user``); the
    token row is ``request.auth``. Not a user: it has no memberships, only its organization."""

    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    is_active = True
    pk = id = None

    def __init__(self, token: RunnerToken):
        self.token = token
        self.organization = token.organization
        self.organization_id = token.organization_id

    def __str__(self) -> str:
        return f"runner token {self.token.prefix}…"


def is_runner(user) -> bool:
    return isinstance(user, Runner)


class RunnerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <runner token>``. Any other scheme is left to the next class; a
    Bearer token that is unknown or revoked is a 401 ``Invalid runner token.``"""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise AuthenticationFailed("Invalid Bearer header: send 'Authorization: Bearer <token>'.")
        try:
            text = header[1].decode("ascii")
        except UnicodeError:
            raise AuthenticationFailed("Invalid runner token.") from None
        token = RunnerToken.objects.authenticate(text)
        if token is None or not token.organization.is_active:
            raise AuthenticationFailed("Invalid runner token.")
        now = timezone.now()
        if token.last_used is None or now - token.last_used > LAST_USED_EVERY:
            RunnerToken.objects.filter(pk=token.pk).update(last_used=now)
        return Runner(token), token

    def authenticate_header(self, request):
        return self.keyword


class RunnerTokenScheme(OpenApiAuthenticationExtension):
    """The runner token in the OpenAPI schema: HTTP bearer authentication."""

    target_class = RunnerTokenAuthentication
    name = "runnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A backup runner's token of its organization (`fwb_…`).",
        }


# Token first, as in REST_FRAMEWORK: a missing login is a 401 with WWW-Authenticate: Token.
AUTHENTICATION = [
    authentication.TokenAuthentication,
    RunnerTokenAuthentication,
    authentication.SessionAuthentication,
]


def scope_for(queryset: QuerySet, user, scope: Scope = "visible") -> QuerySet:
    """``queryset`` narrowed to what ``user`` may see: a runner its own organization's rows,
    a person those of their organizations (``scope`` as :func:`fleetwatch.api.querysets.scoped`)."""
    if is_runner(user):
        path = getattr(queryset, "org_path", "organization")
        return queryset.filter(**{f"{path}_id": user.organization_id})
    return scoped(queryset, user, scope)


class BackupsAccess(permissions.BasePermission):
    """Authenticated callers only. A runner may use a viewset's ``runner_actions`` (or a plain
    view's ``runner_methods``) and nothing else (403); a person reads what they see and writes
    only in the organizations they administer (403 otherwise, the object's organization
    decides)."""

    message = "Only an administrator of the organization may change this."
    runner_message = "A runner token may not do this: use the token of an administrator."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not is_runner(user):
            return True
        if hasattr(view, "action_map"):  # a viewset: by action; an unmapped method is a 405 later
            allowed = view.action is None or view.action in getattr(view, "runner_actions", ())
        else:
            method = "GET" if request.method == "HEAD" else request.method
            # A method the view does not have is its 405, for runners as for everyone.
            allowed = method in getattr(view, "runner_methods", ()) or not hasattr(view, method.lower())
        if not allowed:
            self.message = self.runner_message
        return allowed

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS or is_runner(request.user):
            return True
        return administers(request.user, obj.organization_id)


def may_write(user, organization_id) -> bool:
    """Whether ``user`` may write in the organization: a runner of that organization, or an
    administrator of it."""
    if is_runner(user):
        return user.organization_id == organization_id
    return administers(user, organization_id)
