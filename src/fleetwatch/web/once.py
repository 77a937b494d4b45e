"""One-time form tokens: a form whose double submission would act twice (queue two commands,
create two enrollment tokens) carries a fresh UUID in a hidden ``once`` field; the view claims it
in the transaction that acts (:func:`claim`), and a second POST with the same token finds it
claimed and acts no more (it shows what the first one did).

Browsers send a double click as two requests, a reload or the back button as a repeated one;
disabling the button in the page (``forms.js``) stops most of them, the token stops all of
them, on SQLite (writes are serialised: IMMEDIATE transactions) and PostgreSQL (the second
insert of a primary key waits for the first transaction, then fails) alike.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from fleetwatch.web.models import KEEP_SUBMITTED, SubmittedForm


def new_nonce() -> str:
    """A fresh token for a form being rendered."""
    return str(uuid.uuid4())


def claim(nonce: uuid.UUID, user, purpose: str) -> SubmittedForm | None:
    """Mark ``nonce`` used by ``user`` for ``purpose``. None when this call claimed it (go on
    and act, then :func:`settle` the outcome); else the earlier submission's row (act no more).

    Call it inside ``transaction.atomic()``: a rollback of what the form did un-claims the
    token, so a refused form may be corrected and sent again."""
    SubmittedForm.objects.filter(created__lt=timezone.now() - KEEP_SUBMITTED).delete()
    try:
        with transaction.atomic():
            SubmittedForm.objects.create(nonce=nonce, user=user, purpose=purpose)
    except IntegrityError:
        return SubmittedForm.objects.filter(nonce=nonce).first() or SubmittedForm(
            nonce=nonce, purpose=purpose
        )
    return None


def settle(nonce: uuid.UUID, outcome: str) -> None:
    """Record what the first submission made (an id), for a repeated one to show."""
    SubmittedForm.objects.filter(nonce=nonce).update(outcome=outcome)
