"""Celery tasks of notifications: webhook deliveries with retries, e-mail."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

# A notification sent or failed: one line each, on the worker's console.
events = logging.getLogger("fleetwatch.events")


def attempt_delivery(delivery, now: datetime | None = None) -> bool:
    """One attempt; records it. Returns True when another attempt should follow."""
    from fleetwatch.notifications.destinations import Refused
    from fleetwatch.notifications.models import WebhookDelivery
    from fleetwatch.notifications.webhooks import MAX_ATTEMPTS, backoff, post

    now = now or datetime.now(UTC)
    webhook = delivery.webhook
    refused = False
    try:
        code, error = post(
            webhook.url,
            webhook.secret,
            delivery.payload,
            allow_private=settings.FLEETWATCH_WEBHOOK_ALLOW_PRIVATE,
        )
    except Refused as exc:
        # Nothing was sent, and trying again would not change that.
        code, error, refused = None, f"Refused: {exc}"[:300], True
    delivery.attempts += 1
    delivery.last_attempt = now
    delivery.response_code = code
    delivery.error = error
    if not error:
        delivery.status, delivery.next_attempt = WebhookDelivery.Status.DELIVERED, None
        events.info("webhook %s: %s notification sent (HTTP %s)", webhook, delivery.kind, code)
    elif refused:
        delivery.status, delivery.next_attempt = WebhookDelivery.Status.FAILED, None
        events.warning("webhook %s: not sent: %s", webhook, error)
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt = WebhookDelivery.Status.FAILED, None
        events.warning("webhook %s: giving up after %s attempts: %s", webhook, delivery.attempts, error)
    else:
        delivery.next_attempt = now + backoff(delivery.attempts)
        events.warning(
            "webhook %s: attempt %s failed (%s); next attempt at %s",
            webhook,
            delivery.attempts,
            error,
            delivery.next_attempt.strftime("%H:%M:%S"),
        )
    delivery.save()
    return delivery.next_attempt is not None


@shared_task
def deliver_webhook(delivery_id: int) -> None:
    from fleetwatch.notifications.models import WebhookDelivery

    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return
    if attempt_delivery(delivery):
        # Retried with backoff through the broker: a restart of the worker loses nothing.
        deliver_webhook.apply_async((delivery_id,), eta=delivery.next_attempt)


@shared_task
def send_email(subject: str, body: str, recipients: list[str]) -> None:
    """One e-mail to each address (no retry); one console line per address that failed (the
    others are still tried) and one for those sent."""
    sent = []
    for address in recipients:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
        except Exception as exc:  # the SMTP server's refusal or absence: a line, not a traceback
            events.warning("e-mail %r to %s not sent: %s: %s", subject, address, type(exc).__name__, exc)
        else:
            sent.append(address)
    if sent:
        events.info("e-mail %r sent to %s", subject, ", ".join(sent))
