"""Webhooks: rows written with the change, sent afterwards with a signature.

``tickets.signals.ticket_changing`` is sent inside the transaction of every
change (tickets/actions/base.py ``announce``); ``write_deliveries`` answers it
by writing one WebhookDelivery per matching subscription in that same
transaction. So a change that commits has its deliveries (no loss on a
crash), and a change that rolls back has none. After the commit a celery task
sends them (``api.tasks.deliver_webhooks``); the beat sweep
(``api.tasks.deliver_pending_webhooks``) sends whatever is due and was not
sent: a broker that was down, a worker that was killed mid-delivery.

A sender claims a row with a short lease before it talks to the receiver,
so the task, its retries and the sweep never post one row twice at once; a
receiver that answers 2xx gets the row marked sent, and the row is never
posted again. Each failure pushes the next attempt back exponentially (30 s,
1 min, 2 min … at most an hour); a row still unsent a day after it was
written is marked failed. A subscription whose deliveries fail
PAUSE_AFTER times in a row is paused and its contacts are told by e-mail.

Signature: ``X-Helpdesk-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the subscription's secret>``.
"""

import datetime
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from helpdesk.cache import ahead_get, forget_ahead, read_ahead_on
from tickets.models import Message, Status, Ticket

log = logging.getLogger(__name__)

SEND_LEASE = datetime.timedelta(minutes=2)
GIVE_UP_AFTER = datetime.timedelta(days=1)
FIRST_RETRY = datetime.timedelta(seconds=30)
MAX_RETRY = datetime.timedelta(hours=1)
PAUSE_AFTER = 20
TIMEOUT_SECONDS = 10
SWEEP_LIMIT = 200
USER_AGENT = "neispuo-helpdesk-webhooks/1"


def events_for(change: str, ticket: Ticket, extra: dict) -> list[str]:
    """Which webhook events a domain change makes."""
    if change == "created":
        return [WebhookEvent.CREATED]
    if change == "message":
        return [WebhookEvent.MESSAGE]
    if change == "status" and ticket.status == Status.RESOLVED:
        return [WebhookEvent.RESOLVED]
    return [WebhookEvent.UPDATED]


def ticket_payload(ticket: Ticket) -> dict:
    return {
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "tier": ticket.tier,
        "channel": ticket.channel,
        "institution": ticket.institution.code if ticket.institution_id else None,
        "region": ticket.region.code if ticket.region_id else None,
        "competence": ticket.competence.code if ticket.competence_id else None,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
    }


def message_payload(message: Message) -> dict:
    return {
        "id": message.pk,
        "author": message.author_display,
        "from_staff": message.from_staff,
        "channel": message.channel,
        "body_text": message.body_text,
        "created_at": message.created_at,
    }


def matching_subscriptions(ticket: Ticket) -> list[WebhookSubscription]:
    scope = Q(region__isnull=True, institution__isnull=True)
    if ticket.region_id:
        scope |= Q(region_id=ticket.region_id)
    if ticket.institution_id:
        scope |= Q(institution_id=ticket.institution_id)
    return list(WebhookSubscription.objects.filter(scope, is_active=True))


# Whether any subscription is active, shared by every process through the cache;
# a saved or deleted subscription clears it (see forget_subscriptions).
ANY_ACTIVE_KEY = "hd:webhooks:any-active"
ANY_ACTIVE_SECONDS = 300
# Asked by every filing: read with the filing's other flags (helpdesk/cache.py).
read_ahead_on("filing", ANY_ACTIVE_KEY)


def any_active_subscription() -> bool:
    """Most installations have few subscriptions: no query per change when there are none."""
    known = ahead_get(cache, ANY_ACTIVE_KEY)
    if known is None:
        known = WebhookSubscription.objects.filter(is_active=True).exists()
        cache.set(ANY_ACTIVE_KEY, known, ANY_ACTIVE_SECONDS)
    return known


def forget_subscriptions(sender, **kwargs) -> None:
    """Receiver of a subscription's post_save/post_delete: the next change asks the database."""
    cache.delete(ANY_ACTIVE_KEY)
    forget_ahead(ANY_ACTIVE_KEY)
    # A transaction that rolls back after the save must not leave a stale answer either.
    transaction.on_commit(lambda: cache.delete(ANY_ACTIVE_KEY))


def write_deliveries(sender, ticket_id, change, **extra) -> list[int]:
    """Receiver of ``ticket_changing``: write the deliveries this change owes, in its transaction."""
    if not any_active_subscription():
        return []
    ticket = Ticket.objects.select_related("institution", "region", "competence").get(pk=ticket_id)
    subscriptions = matching_subscriptions(ticket)
    if not subscriptions:
        return []
    message = None
    if change == "message":
        message = (
            Message.objects.select_related("author").filter(pk=extra.get("message_id")).first()
        )
        if message is None or message.kind != Message.Kind.PUBLIC:
            # Internal notes are for support staff, never for another system.
            return []
    now = timezone.now()
    rows = []
    for event in events_for(change, ticket, extra):
        for subscription in subscriptions:
            if event not in (subscription.events or []):
                continue
            delivery = WebhookDelivery(
                subscription=subscription,
                event=event,
                ticket_reference=ticket.reference,
                created_at=now,
                next_attempt_at=now,
                give_up_at=now + GIVE_UP_AFTER,
            )
            payload = {
                "id": str(delivery.event_id),
                "event": event,
                "change": change,
                "occurred_at": now,
                "ticket": ticket_payload(ticket),
            }
            if message is not None:
                payload["message"] = message_payload(message)
            delivery.body = json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False)
            rows.append(delivery)
    if not rows:
        return []
    WebhookDelivery.objects.bulk_create(rows)
    ids = [row.pk for row in rows if row.pk is not None]
    if ids:
        transaction.on_commit(lambda: schedule(ids))
    return ids


def schedule(ids) -> None:
    """After the commit: hand the new rows to celery; if the broker is down the sweep sends them."""
    # Imported here: api.tasks imports this module (celery task registration).
    from api.tasks import deliver_webhooks

    try:
        deliver_webhooks.delay(ids)
    except Exception as exc:  # a broker that is down must not fail the request
        log.warning("webhooks: could not queue deliveries %s: %s", ids, exc)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> datetime.timedelta:
    """How long to wait after the `attempts`-th failure: 30 s doubling, at most an hour."""
    seconds = FIRST_RETRY.total_seconds() * 2 ** min(max(attempts - 1, 0), 20)
    return min(datetime.timedelta(seconds=seconds), MAX_RETRY)


def claim(delivery: WebhookDelivery, now) -> bool:
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery.pk, state=WebhookDelivery.State.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + SEND_LEASE)
    )
    return bool(claimed)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an answer of its own (3xx = failure), never followed


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body`; return the HTTP status (raises OSError when nobody answers)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            response.read(65536)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def send(delivery: WebhookDelivery, *, now=None) -> bool:
    """Claim and post one delivery; return True if this call delivered it."""
    now = now or timezone.now()
    if not claim(delivery, now):
        return False
    delivery.refresh_from_db()
    subscription = delivery.subscription
    if not subscription.is_active or subscription.paused_at is not None:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=None)
        return False
    body = delivery.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Helpdesk-Event": delivery.event,
        "X-Helpdesk-Delivery": str(delivery.event_id),
        "X-Helpdesk-Signature": sign(subscription.secret, timestamp, body),
    }
    status, error = None, ""
    try:
        status = post(subscription.url, body, headers)
    except (OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    attempts = delivery.attempts + 1
    done = timezone.now()
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.SENT,
            attempts=attempts,
            last_attempt_at=done,
            last_status=status,
            last_error="",
            sent_at=done,
            locked_until=None,
        )
        WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
        return True
    error = error or _("The receiver answered HTTP %(status)s.") % {"status": status}
    gave_up = done >= delivery.give_up_at
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.FAILED if gave_up else WebhookDelivery.State.PENDING,
        attempts=attempts,
        last_attempt_at=done,
        last_status=status,
        last_error=error[:2000],
        next_attempt_at=done + backoff(attempts),
        locked_until=None,
    )
    record_failure(subscription)
    return False


def record_failure(subscription: WebhookSubscription) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    paused = (
        WebhookSubscription.objects.filter(
            pk=subscription.pk, paused_at__isnull=True, consecutive_failures__gte=PAUSE_AFTER
        ).update(
            paused_at=timezone.now(),
            paused_reason=_("%(n)s deliveries in a row failed.") % {"n": PAUSE_AFTER},
        )
        > 0
    )
    if paused:
        tell_paused(subscription)


def tell_paused(subscription: WebhookSubscription) -> None:
    """E-mail the subscription's contact and the administrators that it was paused."""
    # Imported here: the people model is resolved at run time (AUTH_USER_MODEL).
    from django.contrib.auth import get_user_model

    admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
    recipients = {email for email in admins.values_list("email", flat=True) if email}
    if subscription.contact_email:
        recipients.add(subscription.contact_email)
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Webhook paused: %(name)s") % {"name": subscription.name}
        text = _(
            "The webhook “%(name)s” (%(url)s) failed %(n)s times in a row and has been paused. "
            "Its events are kept for a day. Fix the receiver, then resume the subscription "
            "in the administration (the “Resume” action)."
        ) % {"name": subscription.name, "url": subscription.url, "n": PAUSE_AFTER}
    try:
        send_mail(subject, text, None, sorted(recipients))
    except Exception as exc:  # the pause itself stands; the log says why mail did not go
        log.warning("webhooks: could not mail the pause of %s: %s", subscription.pk, exc)


def deliver(ids) -> int:
    """Send the given deliveries (those still pending); return how many went out."""
    rows = WebhookDelivery.objects.filter(pk__in=list(ids), state=WebhookDelivery.State.PENDING)
    return sum(1 for row in rows.order_by("pk") if send(row))


def deliver_pending(*, limit: int = SWEEP_LIMIT, now=None) -> dict:
    """Send what is due and mark failed what is older than a day; return counts."""
    now = now or timezone.now()
    result = {"sent": 0, "failed": 0, "gave_up": 0}
    result["gave_up"] = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.PENDING, give_up_at__lte=now
    ).update(state=WebhookDelivery.State.FAILED, locked_until=None)
    due = (
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(subscription__is_active=True, subscription__paused_at__isnull=True)
        .order_by("next_attempt_at", "pk")
    )
    for row in due[:limit]:
        if send(row, now=now):
            result["sent"] += 1
        else:
            result["failed"] += 1
    return result


def resend(deliveries) -> int:
    """Queue deliveries again (the admin's re-send): pending, due now, one more day to go."""
    now = timezone.now()
    return WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at=now,
        give_up_at=now + GIVE_UP_AFTER,
        locked_until=None,
    )
