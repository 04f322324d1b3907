"""Celery tasks of the ticket domain: notifications and SLA sweeps."""

import logging
import smtplib

from celery import shared_task

log = logging.getLogger(__name__)

# Back-off for a mail server that is down: 10 s, 20 s, 40 s ... capped at 30 min.
RETRY_ERRORS = (smtplib.SMTPException, OSError, ConnectionError)


@shared_task(
    bind=True,
    autoretry_for=RETRY_ERRORS,
    retry_backoff=10,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=20,
    acks_late=True,
)
def send_ticket_mail(self, kind: str, ticket_id: int, message_id: int | None = None) -> int:
    from tickets.notifications import send_ticket_mail as send

    return send(kind, ticket_id, message_id)


@shared_task
def sla_sweep() -> dict:
    from tickets.sla import sweep

    return sweep()


@shared_task
def autoclose_resolved() -> int:
    from tickets.sla import autoclose_resolved as run

    return run()


@shared_task(
    bind=True,
    autoretry_for=RETRY_ERRORS,
    retry_backoff=10,
    retry_backoff_max=1800,
    max_retries=20,
    acks_late=True,
)
def send_sla_mail(self, kind: str, ticket_id: int) -> int:
    from tickets.notifications import send_ticket_mail as send

    return send(kind, ticket_id, None)
