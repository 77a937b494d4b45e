"""The web pages' own records: :class:`SubmittedForm`, the one-time tokens of forms whose
double submission would do something twice (queue a command twice, create two enrollment
tokens)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# How long a used form token is remembered: a page left open longer and sent again is a new
# submission (its token was issued by a page rendered that long ago).
KEEP_SUBMITTED = timedelta(days=2)


class SubmittedForm(models.Model):
    """A form token (a UUID put in the form when the page was rendered) that has been used.

    The first POST carrying a token inserts its row in the same transaction as what the form
    does; a second POST with the same token (a double click, a reload, the back button) finds
    the row (the primary key makes concurrent inserts wait for each other) and does nothing
    again. ``outcome`` is what the first one made (e.g. the command's id), so the second can
    show it."""

    nonce = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=40)  # "command", "enrollment-token"
    outcome = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.purpose} {self.nonce}"
