"""Celery tasks of the mail bridge: polling the mailboxes, delivering the outbox."""

import logging
import smtplib

from celery import shared_task

from mailbridge import outbound
from mailbridge.imap import poll_all_once

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


def schedule(sender, ids, **kwargs) -> None:
    """Receiver of ``tickets.signals.outbox_written``: hand the new rows to a task.

    If the broker is down this raises; ``send_robust`` logs it and the rows
    wait for ``deliver_pending``.
    """
    deliver_outbox.delay(list(ids))
