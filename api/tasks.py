"""Celery tasks of the API: sending webhook deliveries, sweeping what is due."""

from celery import shared_task

from api import idempotency, webhooks


@shared_task(ignore_result=True, acks_late=True)
def deliver_webhooks(ids: list[int]) -> int:
    """Send the deliveries a change has just written (a failure waits for the sweep's retry)."""
    return webhooks.deliver(ids)


@shared_task(ignore_result=True)
def deliver_pending_webhooks() -> dict:
    """Beat: send due deliveries (retries with back-off, lost tasks); forget old idempotency keys."""
    result = webhooks.deliver_pending()
    result["idempotency_keys_forgotten"] = idempotency.forget_old()
    return result
