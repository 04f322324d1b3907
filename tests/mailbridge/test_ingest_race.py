"""Two processes on one message at the same moment: one ticket, the other a duplicate.

Needs real concurrent transactions, so it runs on PostgreSQL only (SQLite
serialises writers and the in-memory test database refuses concurrent ones).
"""

import threading

import pytest
from django.conf import settings
from django.db import connection

from mailbridge import ingest
from tests.mailbridge.test_ingest import make_mail
from tickets.models import Ticket

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL (DATABASE_URL) for concurrent transactions",
    ),
]


def test_racing_processors_make_one_ticket(cast, monkeypatch):
    raw = make_mail()
    both_inside = threading.Barrier(2, timeout=20)
    real = ingest._decide

    def decide(parsed, row):
        both_inside.wait()  # both are past the store step and deciding at once
        return real(parsed, row)

    monkeypatch.setattr(ingest, "_decide", decide)
    outcomes = []

    def work():
        try:
            outcomes.append(ingest.process_message(raw).outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["created", "duplicate"]
    assert Ticket.objects.count() == 1
