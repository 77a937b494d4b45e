"""A user's own pages: the time-zone preference and logging out from a plain link.

``/preferences/`` (GET shows, POST saves) sets the zone every page is shown in
(``fleetwatch.web.timezones``). ``/logout/``: Django's ``LogoutView`` only logs out on POST (a
GET that logs out could be triggered by any page's ``<img src>``); a GET here answers a small
page with a "Log out" button instead of 405, so a bookmarked or typed ``/logout/`` still works.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from fleetwatch.notifications.models import Preference
from fleetwatch.web.timezones import is_zone


@login_required
def preferences(request):
    """The time zone of the user's pages; blank means the server's (``settings.TIME_ZONE``).
    An unknown zone name is answered 400 with the form and a message."""
    preference, _ = Preference.objects.get_or_create(user=request.user)
    error = ""
    if request.method == "POST":
        chosen = request.POST.get("timezone", "").strip()
        if chosen and not is_zone(chosen):
            error = f"Unknown time zone {chosen[:64]!r}: choose one of the list (e.g. Europe/Rome)."
        else:
            preference.timezone = chosen
            preference.save(update_fields=["timezone"])
            messages.success(request, f"Times are now shown in {chosen or 'the server zone'}.")
            return redirect("web:preferences")
    context = {"preference": preference, "error": error, "default_zone": settings.TIME_ZONE}
    return render(request, "web/account/preferences.html", context, status=400 if error else 200)


class LogoutView(auth_views.LogoutView):
    """POST logs out (then the login page); GET asks to confirm with a button."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect("web:login")
        return render(request, "web/account/logout.html")
