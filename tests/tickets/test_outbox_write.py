"""Outbox rows are written once per change and recipient, each with its thread key."""

import pytest

from tickets import outbox
from tickets.models import MailThreadKey, OutboundMail

pytestmark = pytest.mark.django_db


def test_the_same_change_written_twice_makes_its_rows_and_thread_keys_once(cast, make_ticket):
    ticket = make_ticket(notify=False)
    message = ticket.messages.get()
    to = [("a@school.example", "bg"), ("b@school.example", "en")]
    assert outbox.notify("mail_held", ticket, message, to=to) == 2
    rows = list(OutboundMail.objects.filter(ticket=ticket).order_by("pk"))
    assert [r.recipients for r in rows] == [["a@school.example"], ["b@school.example"]]
    keys = MailThreadKey.objects.filter(ticket=ticket, direction=MailThreadKey.Direction.OUT)
    assert sorted(keys.values_list("mail_id", "recipient")) == sorted(
        (r.message_id, r.recipients[0]) for r in rows
    )
    # A second worker racing on the same change: every key known, nothing new.
    assert outbox.notify("mail_held", ticket, message, to=to) == 0
    assert OutboundMail.objects.filter(ticket=ticket).count() == 2
    assert keys.count() == 2
    # A new recipient of the same change: only that one is written.
    assert outbox.notify("mail_held", ticket, message, to=[*to, ("c@school.example", "bg")]) == 1
    assert keys.count() == 3
