"""Celery tasks of the mail bridge: polling the mailboxes, delivering the outbox, purging raw mail."""

import datetime
import logging
import smtplib
import time

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from mailbridge import outbound, ready
from mailbridge.imap import poll_all_once
from mailbridge.models import InboundMessage

log = logging.getLogger(__name__)

# Back-off for a mail server that is down: 10 s, 20 s, 40 s ... capped at 30 min.
RETRY_ERRORS = (smtplib.SMTPException, OSError, ConnectionError)


@shared_task(ignore_result=True)
def poll_all_mailboxes() -> dict:
    """Make one pass over each active mailbox; return a summary.

    A mailbox that another poller works right now (manage.py mailbridge_poll,
    or the previous run of this task) is skipped.
    """
    return {"mailboxes": [result.as_dict() for result in poll_all_once()]}


# One task works through received mail for at most this long (or this many
# messages), then sends a successor if mail is left, so the other tasks of
# the queue (outbox, SLA) get a worker in between.
PROCESS_SECONDS = 20
PROCESS_ROWS = 500


@shared_task(bind=True, ignore_result=True)
def process_received(self) -> int:
    """Process received mail, in order per conversation, until none is left; return how many.

    The poller sends a few of these after each stored batch; beat runs it every
    minute too, so rows whose task was lost (a worker killed, the broker down)
    are processed all the same. Several run at once in different workers:
    each claims only rows no other holds (mailbridge/queue.py).
    """
    # Imported here: the queue module is only needed by the workers that drain it.
    from mailbridge import queue

    drained = queue.drain(max_rows=PROCESS_ROWS, max_seconds=PROCESS_SECONDS)
    if drained.more:
        # On the queue this one came from (workers may serve a queue of their own).
        queue_name = (self.request.delivery_info or {}).get("routing_key")
        process_received.apply_async(queue=queue_name) if queue_name else process_received.delay()
    return len(drained.outcomes)


@shared_task(
    bind=True,
    autoretry_for=RETRY_ERRORS,
    retry_backoff=10,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=20,
    acks_late=True,
)
def deliver_outbox(self, ids: list[int]) -> int:
    """Send the outbox rows a change has just written."""
    return outbound.deliver(ids)


@shared_task(ignore_result=True)
def deliver_pending() -> dict:
    """Beat: send what is still pending (lost tasks, a broker or SMTP server that was down)."""
    return outbound.deliver_pending()


@shared_task(ignore_result=True)
def purge_raw_mail() -> int:
    """Beat: empty the raw bytes of received mail older than HELPDESK_RAW_MAIL_DAYS.

    Only mail that is done with (processed, ignored, duplicate): the ticket it
    became keeps the parsed text, and the row keeps its sender, subject,
    size and digest (so a copy that arrives again is still a duplicate).
    Quarantined and held mail keeps its bytes, to be run again from the admin.
    Returns how many rows were emptied.
    """
    days = getattr(settings, "HELPDESK_RAW_MAIL_DAYS", 90)
    before = timezone.now() - datetime.timedelta(days=days)
    done = (
        InboundMessage.State.PROCESSED,
        InboundMessage.State.IGNORED,
        InboundMessage.State.DUPLICATE,
    )
    rows = InboundMessage.objects.filter(state__in=done, created_at__lt=before).exclude(raw=b"")
    purged = 0
    last = 0
    while True:
        # In batches, in id order, so one run never holds a long lock on a big table.
        ids = list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:500])
        if not ids:
            break
        last = ids[-1]
        purged += InboundMessage.objects.filter(pk__in=ids).update(raw=b"")
    if purged:
        log.info("mailbridge: emptied the raw bytes of %s received mails", purged)
    return purged


# A drain task sends at most this many rows (or works this long), then queues
# its successor if rows are left, so the queue's other tasks get a worker too.
DRAIN_ROWS = 500
DRAIN_SECONDS = 20
# A batch that failed is retried by deliver_outbox (its back-off) after this.
FAILED_BATCH_COUNTDOWN = 10


@shared_task(bind=True, ignore_result=True, acks_late=True)
def deliver_ready(self) -> int:
    """Send the rows on the ready list, a batch at a time; return how many went out.

    mailbridge/ready.py explains the list. A batch that fails is handed to
    ``deliver_outbox``, which retries it with back-off; the others still go.
    """
    sent = taken = 0
    deadline = time.monotonic() + DRAIN_SECONDS
    # Run inline (celery's eager mode: tests, a request), never wait.
    gather = 0 if self.request.is_eager else ready.GATHER_SECONDS
    just_waited = False
    while True:
        ids, left = ready.take()
        if not ids and gather and taken and not just_waited:
            # The burst may go on: wait a moment once for more before letting go.
            time.sleep(gather)
            ids, left = ready.take()
        just_waited = False
        if not ids:
            # Changes from now on queue a task of their own; one that came
            # between the take and the reopening is still this task's.
            ready.reopen()
            if not ready.waiting():
                return sent
            continue
        taken += len(ids)
        if left >= ready.HELP_AT and ready.may_call_for_help():
            deliver_ready.delay()
        try:
            sent += outbound.deliver(ids)
        except Exception as exc:  # the rows are still pending; the retrying task takes them
            log.warning("outbox: a batch of %s failed (%s); retrying it", len(ids), exc)
            deliver_outbox.apply_async((ids,), countdown=FAILED_BATCH_COUNTDOWN)
        if taken >= DRAIN_ROWS or time.monotonic() > deadline:
            # The flag stays set: the successor drains what is left.
            deliver_ready.delay()
            return sent
        if gather and len(ids) < ready.BATCH and not left:
            # A trickle: gather a few more rows before the next batch.
            time.sleep(gather)
            just_waited = True


def schedule(sender, ids, **kwargs) -> None:
    """Receiver of ``tickets.signals.outbox_written``: hand the new rows to the workers.

    Onto the ready list, with a drain task queued if none is (mailbridge/ready.py),
    where the cache is Redis; else a task of their own. If Redis or the broker
    is down this raises; ``send_robust`` logs it and the rows wait for
    ``deliver_pending``.
    """
    ids = list(ids)
    if not ids:
        return
    if not ready.available():
        deliver_outbox.delay(ids)
        return
    if ready.hand_over(ids):
        deliver_ready.delay()


def forget_person(sender, user_id, old_email, new_email, **kwargs) -> None:
    """Receiver of ``tickets.signals.person_anonymised``: received mail forgets the address.

    The rows keep their outcome and links; the sender becomes the placeholder
    and the raw bytes (which hold the address and the name) are emptied.
    """
    InboundMessage.objects.filter(sender=old_email.lower()).update(sender=new_email, raw=b"")
