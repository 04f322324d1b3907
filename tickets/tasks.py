"""Celery tasks of the ticket domain: the SLA sweep, closing old resolutions, surge detection."""

from celery import shared_task

from tickets import surges
from tickets.actions import sla


@shared_task
def sla_sweep() -> dict:
    return sla.sweep()


@shared_task
def autoclose_resolved() -> int:
    return sla.autoclose_resolved()


@shared_task
def detect_surges() -> int:
    """Cluster the last hour's requests; return how many new surge alerts were raised."""
    return len(surges.detect())


@shared_task
def reconcile_counters() -> int:
    """Compare the dashboard's counters with the tickets; rebuild them if they drifted."""
    # Imported here: the counters hook the models; the beat process needs them only here.
    from tickets import counters

    return counters.reconcile()
