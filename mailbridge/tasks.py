"""Celery tasks of the mail bridge: polling the mailboxes, delivering the outbox, purging raw mail."""

import datetime
import logging
import smtplib

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from mailbridge import outbound
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


def schedule(sender, ids, **kwargs) -> None:
    """Receiver of ``tickets.signals.outbox_written``: hand the new rows to a task.

    If the broker is down this raises; ``send_robust`` logs it and the rows
    wait for ``deliver_pending``.
    """
    deliver_outbox.delay(list(ids))


def forget_person(sender, user_id, old_email, new_email, **kwargs) -> None:
    """Receiver of ``tickets.signals.person_anonymised``: received mail forgets the address.

    The rows keep their outcome and links; the sender becomes the placeholder
    and the raw bytes (which hold the address and the name) are emptied.
    """
    InboundMessage.objects.filter(sender=old_email.lower()).update(sender=new_email, raw=b"")
