"""Registration approvals and enrollment tokens (``/registrations/``), for organization
administrators.

* **Pending enrollments**: stations and hosts that enrolled with a token requiring approval
  (``Enrollment`` in state ``pending``), with Approve (the device is created and gets its
  credentials at its next attempt) and Reject; the recently decided ones below.
* **Enrollment tokens** of the organizations the user administers: listed (name, prefix,
  approval, expiry, last use), created (the token is shown once, with the agent's configuration
  lines), revoked.

Who may do what, as everywhere (``OrgScopedQuerySet``): the page lists only what belongs to the
organizations the user administers (superusers: all); someone who administers none gets 403; a
member's POST about their organization's enrollment or token is 403; another organization's is
404. Deciding goes through :mod:`fleetwatch.inventory.enrollment` (the same functions as the
REST API's ``approve/`` and ``reject/``), so a decision is the same whichever way it is taken.

The token appears once: the creating POST (guarded by a one-time form token, so a double click
creates one token) keeps the text in the session and redirects to the token's page, which takes
it out of the session again as it shows it.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from fleetwatch.inventory.models import (
    Enrollment,
    EnrollmentStatus,
    EnrollmentToken,
    Organization,
    administers,
)
from fleetwatch.web import once
from fleetwatch.web.onboarding import server_url

DECIDED_SHOWN = 20  # recently decided enrollments on the page
REVEAL = "fleetwatch.enrollment-token.reveal"  # session: {token id: token text}, until shown
DECISIONS = ("approve", "reject")
EXPIRY_CHOICES = [
    ("", "never (until revoked)"),
    ("1", "in 1 day"),
    ("7", "in 7 days"),
    ("30", "in 30 days"),
    ("365", "in a year"),
]


def _managed(user):
    organizations = Organization.objects.manageable_by(user)
    if not organizations.exists():
        raise PermissionDenied("Only an organization's administrators manage registrations.")
    return organizations


class TokenForm(forms.Form):
    """A new enrollment token: its organization (one the user administers), a name, whether
    devices enrolling with it wait for approval, its expiry; and the form's one-time token."""

    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), empty_label=None)
    name = forms.CharField(max_length=100, help_text="e.g. Solar sites 2026")
    requires_approval = forms.BooleanField(
        required=False, initial=True, label="Devices wait for an administrator's approval"
    )
    expires_in = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, empty_value=None, required=False, initial="30", label="Expires"
    )
    once = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("once", once.new_nonce())
        super().__init__(*args, **kwargs)
        organizations = Organization.objects.manageable_by(user).filter(is_active=True)
        self.fields["organization"].queryset = organizations
        if organizations.count() == 1:
            self.fields["organization"].initial = organizations.first().pk
            self.fields["organization"].widget = forms.HiddenInput()


def page_context(request, form: TokenForm | None = None) -> dict:
    organizations = _managed(request.user)
    enrollments = Enrollment.objects.filter(organization__in=organizations).select_related(
        "organization", "token", "device", "decided_by"
    )
    return {
        "pending": enrollments.filter(status=EnrollmentStatus.PENDING).order_by("created"),
        "decided": enrollments.exclude(status=EnrollmentStatus.PENDING).order_by("-decided", "-created")[
            :DECIDED_SHOWN
        ],
        "tokens": EnrollmentToken.objects.filter(organization__in=organizations)
        .select_related("organization", "created_by")
        .order_by("revoked", "organization__name", "name"),
        "form": form or TokenForm(user=request.user),
        "now": timezone.now(),
        "several": organizations.count() > 1,
    }


@login_required
@require_GET
def registrations(request):
    """``/registrations/``: pending enrollments, recent decisions, enrollment tokens."""
    return render(request, "web/registration/registrations.html", page_context(request))


def _enrollment(request, pk) -> Enrollment:
    """404 unless visible, 403 unless the user administers its organization."""
    enrollment = get_object_or_404(
        Enrollment.objects.visible_to(request.user).select_related("organization"), pk=pk
    )
    if not administers(request.user, enrollment.organization_id):
        raise PermissionDenied("Only an administrator of the organization may decide on its enrollments.")
    return enrollment


@login_required
@require_POST
def decide(request, pk, decision):
    """``/registrations/<uuid>/approve/`` or ``…/reject/``: decide a pending enrollment (a
    decided one is left as it is, with a message saying so)."""
    if decision not in DECISIONS:
        raise Http404("No such decision.")
    enrollment = _enrollment(request, pk)
    from fleetwatch.inventory import enrollment as enrollments

    if enrollment.status != EnrollmentStatus.PENDING:
        messages.info(request, f"{enrollment.name} ({enrollment.serial}) was {enrollment.status} already.")
        return redirect("web:registrations")
    if decision == "approve":
        enrollment = enrollments.approve(enrollment, request.user, now=timezone.now())
        messages.success(
            request, f"{enrollment.name} is approved: it gets its credentials at its next attempt."
        )
    else:
        try:
            enrollment = enrollments.reject(enrollment, request.user, now=timezone.now())
        except ValueError as refused:  # approved meanwhile: its device exists
            messages.error(request, str(refused))
            return redirect("web:registrations")
        messages.success(request, f"{enrollment.name} ({enrollment.serial}) is rejected.")
    return redirect("web:registrations")


@login_required
@require_POST
def token_create(request):
    """``/registrations/tokens/`` (POST): create a token, then show it once."""
    _managed(request.user)
    form = TokenForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(request, "web/registration/registrations.html", page_context(request, form), status=400)
    data = form.cleaned_data
    expires = timezone.now() + timedelta(days=data["expires_in"]) if data["expires_in"] else None
    with transaction.atomic():
        earlier = once.claim(data["once"], request.user, "enrollment-token")
        if earlier is None:
            row, text = EnrollmentToken.issue(
                data["organization"],
                data["name"],
                requires_approval=data["requires_approval"],
                expires=expires,
                created_by=request.user,
            )
            once.settle(data["once"], str(row.pk))
    if earlier is not None:
        if not earlier.outcome:
            return redirect("web:registrations")
        return redirect("web:enrollment-token", pk=earlier.outcome)
    request.session[REVEAL] = {**request.session.get(REVEAL, {}), str(row.pk): text}
    return redirect("web:enrollment-token", pk=row.pk)


def agent_configuration(url: str, token: str) -> str:
    """The lines of ``/etc/fleetwatch-agent.toml`` (docs/agent.md) that enroll a host with
    ``token``: the agent enrolls at its first start and keeps its credentials in its state
    directory. Commands stay off until the machine's owner turns them on."""
    return "\n".join(
        [
            f'server = "{url}"',
            f'token = "{token}"',
            'channel = "http"  # or "mqtt", "amqp" when the server has a broker',
            "commands = false  # true lets this organization's administrators run commands here",
        ]
    )


@never_cache
@login_required
@require_GET
def token_created(request, pk):
    """``/registrations/tokens/<uuid>/``: the token (right after its creation only) and the
    agent's configuration; later, its facts and a placeholder."""
    token = get_object_or_404(
        EnrollmentToken.objects.visible_to(request.user).select_related("organization"), pk=pk
    )
    if not administers(request.user, token.organization_id):
        raise PermissionDenied("Only an administrator of the organization may see its enrollment tokens.")
    pending = request.session.get(REVEAL, {})
    text = pending.pop(str(pk), None)
    if text is not None:
        request.session[REVEAL] = pending
    url = server_url(request)
    shown = text or "<the token shown when it was created>"
    context = {
        "token": token,
        "text": text,
        "url": url,
        "configuration": agent_configuration(url, shown),
        "enroll_url": f"{url}/api/v1/enroll/",
    }
    return render(request, "web/registration/token.html", context)


@login_required
@require_POST
def token_revoke(request, pk):
    """``/registrations/tokens/<uuid>/revoke/``: the token enrolls nothing more (devices that
    enrolled with it keep their credentials)."""
    token = get_object_or_404(EnrollmentToken.objects.visible_to(request.user), pk=pk)
    if not administers(request.user, token.organization_id):
        raise PermissionDenied("Only an administrator of the organization may revoke its tokens.")
    updated = EnrollmentToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())
    if updated:
        messages.success(
            request, f"The token {token.name} ({token.prefix}…) is revoked: it enrolls nothing more."
        )
    else:
        messages.info(request, f"The token {token.name} was revoked already.")
    return redirect("web:registrations")
