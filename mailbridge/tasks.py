"""Celery tasks of the mail bridge: one pass over every mailbox, scheduled by beat."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def poll_all_mailboxes() -> dict:
    """Make one pass over each active mailbox, then resend mail whose task was lost.

    A mailbox that another poller works right now (manage.py mailbridge_poll,
    or the previous run of this task) is skipped. Returns a summary.
    """
    from mailbridge.imap import poll_all_once
    from tickets.notifications import resend_pending

    results = [result.as_dict() for result in poll_all_once()]
    resent = resend_pending()
    return {"mailboxes": results, "resent": resent}
