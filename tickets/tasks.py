"""Celery tasks of the ticket domain: the SLA sweep and the closing of old resolutions."""

from celery import shared_task

from tickets.actions import sla


@shared_task
def sla_sweep() -> dict:
    return sla.sweep()


@shared_task
def autoclose_resolved() -> int:
    return sla.autoclose_resolved()
