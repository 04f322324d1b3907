"""The outbox survives a broker that is down: an SLA warning waits, then goes once.

The sweep writes the warning into the outbox in its own transaction; handing
it to celery after the commit fails because the broker is unreachable (a real
connection refused on a closed port, not a mock). The beat's delivery sweep
sends it once the broker is back, to a real SMTP peer; a second sweep and a
late retry of the lost task send nothing more.
"""

import datetime
from zoneinfo import ZoneInfo

import pytest
from kombu import pools as kombu_pools

from helpdesk.celery import app
from mailbridge import outbound, tasks
from tests.integration.test_mail_roundtrip import send_to_peer
from tests.testservers import free_port
from tickets.actions import sla as sweeps
from tickets.models import OutboundMail

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOFIA = ZoneInfo("Europe/Sofia")


def at(day, hour, minute=0):
    return datetime.datetime(2025, 3, day, hour, minute, tzinfo=SOFIA)


@pytest.fixture
def broker_down():
    """Celery talks to a broker address where nothing listens, and does not retry."""
    saved = {
        key: app.conf[key]
        for key in (
            "task_always_eager",
            "broker_url",
            "broker_connection_retry",
            "task_publish_retry",
        )
    }
    app.conf.update(
        task_always_eager=False,
        broker_url=f"redis://127.0.0.1:{free_port()}/0",
        broker_connection_retry=False,
        task_publish_retry=False,
    )
    _new_pools(app)
    yield
    app.conf.update(saved)
    _new_pools(app)


def _new_pools(app):
    """Drop the process's connections to the broker; the next task opens new ones.

    celery's ``app.pool`` is kombu's process-wide pool for that broker URL,
    and a pool closed with force_close_all refuses every later acquire
    ("Acquire on closed pool"). ``kombu.pools.reset`` closes every pool and
    also empties kombu's registries, so the next task gets a fresh pool
    rather than the closed one; the app then forgets its own references.
    """
    kombu_pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def test_a_warning_written_while_the_broker_is_down_is_sent_once_it_returns(
    cast, make_ticket, settings, smtp_peer, broker_down, caplog
):
    peer = send_to_peer(settings, smtp_peer)
    make_ticket(now=at(11, 10))  # first response due Wed 12 March 10:00

    counts = sweeps.sweep(now=at(12, 9, 30))  # commits; the hand-over to celery fails

    assert counts["warned"] == 1
    [row] = OutboundMail.objects.filter(kind="sla_warning")
    assert (row.state, row.attempts, row.recipients) == ("pending", 0, [cast.expert_x.email])
    assert peer.messages == []
    assert any("send_robust" in r.getMessage() for r in caplog.records)

    # The broker is back: beat runs the delivery sweep (eagerly here).
    app.conf.task_always_eager = True
    assert tasks.deliver_pending.apply().get()["sent"] == 0  # too fresh for the sweep yet
    OutboundMail.objects.filter(pk=row.pk).update(
        created_at=row.created_at - datetime.timedelta(minutes=5)
    )
    assert tasks.deliver_pending.apply().get() == {"sent": 1, "failed": 0, "gave_up": 0}
    # The lost task arrives late, and the sweep comes by again: nothing twice.
    assert outbound.deliver([row.pk]) == 0
    assert tasks.deliver_pending.apply().get()["sent"] == 0

    [sent] = peer.messages
    assert sent.rcpt_tos == [cast.expert_x.email]
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("sent", 1)
