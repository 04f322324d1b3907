"""Merging and closing in bulk ask once more, on a page that needs no JavaScript."""

import pytest
from django.urls import reverse

from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def merge_url(ticket):
    return reverse("console:merge", args=[ticket.reference])


def test_merge_shows_both_requests_and_changes_nothing_until_confirmed(login, cast, make_ticket):
    target = make_ticket(subject="Дипломата не се качва")
    source = make_ticket(subject="Пак дипломата")
    client = login(cast.expert_x)
    response = client.post(merge_url(source), {"reference": target.reference})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-test="merge-confirm"' in html
    assert "Дипломата не се качва" in html and "Пак дипломата" in html
    assert f'name="reference" value="{target.reference}"' in html
    assert 'name="confirm" value="yes"' in html
    source.refresh_from_db()
    assert source.merged_into_id is None and source.status == "new"

    response = client.post(merge_url(source), {"reference": target.reference, "confirm": "yes"})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.merged_into_id == target.pk


def test_a_wrong_reference_is_refused_before_any_confirmation(login, cast, make_ticket):
    source = make_ticket()
    response = login(cast.expert_x).post(merge_url(source), {"reference": "26-999999"}, follow=True)
    assert 'data-test="merge-confirm"' not in response.content.decode()
    assert "msg-error" in response.content.decode()


def bulk(client, ids, action="close", **extra):
    data = {"ids": ids, "action": action, "next": reverse("console:queue_key", args=["all"])}
    data.update(extra)
    return client.post(reverse("console:bulk"), data)


def test_bulk_close_lists_the_requests_and_the_reply_first(login, cast, make_ticket):
    tickets = [make_ticket(subject=f"Дубликат {i}") for i in range(2)]
    hidden = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    client = login(cast.expert_x)
    ids = [t.pk for t in tickets] + [hidden.pk]
    response = bulk(client, ids, text="Решено с обновлението.")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-test="bulk-confirm"' in html
    for ticket in tickets:
        assert ticket.reference in html
    assert hidden.reference not in html  # not the agent's to see, not even its reference
    assert "Решено с обновлението." in html
    assert set(Ticket.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"new"}

    response = bulk(client, ids, text="Решено с обновлението.", confirm="yes")
    assert response.status_code == 302
    closed = Ticket.objects.filter(pk__in=[t.pk for t in tickets])
    assert set(closed.values_list("status", flat=True)) == {"closed"}
    assert Ticket.objects.get(pk=hidden.pk).status == "new"


def test_setting_closed_in_bulk_asks_too_other_actions_do_not(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    response = bulk(client, [ticket.pk], action="status", status="closed")
    assert response.status_code == 200 and b'data-test="bulk-confirm"' in response.content
    assert Ticket.objects.get(pk=ticket.pk).status == "new"
    response = bulk(client, [ticket.pk], action="priority", priority="high")
    assert response.status_code == 302
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"


def test_the_merge_form_keeps_its_script_confirmation(login, cast, make_ticket):
    ticket = make_ticket()
    html = login(cast.expert_x).get(reverse("console:ticket", args=[ticket.reference])).content
    assert b'id="merge-form"' in html and b"data-confirm=" in html
