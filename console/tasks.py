"""Celery tasks of the console: the scheduled reports supervisors subscribe to."""

from celery import shared_task

from console import scheduled


@shared_task
def send_scheduled_reports() -> int:
    return scheduled.send_due()
