"""Nobody reaches a request they may not see, through any URL: always 404."""

import pytest

from helpdesk.uploads import check_file
from tests.portal.helpers import png_bytes
from tickets import actions
from tickets.models import Message, Ticket, TicketEvent


@pytest.fixture
def ticket(cast, make_ticket):
    """Teacher A's request, resolved, with an attachment."""
    ticket = make_ticket(files=[check_file("scan.png", png_bytes())])
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    ticket.refresh_from_db()
    return ticket


def urls(ticket):
    ref = ticket.reference
    attachment = ticket.attachments.get()
    return [
        ("get", f"/portal/requests/{ref}/", {}),
        ("post", f"/portal/requests/{ref}/reply/", {"text": "чужд отговор"}),
        ("post", f"/portal/requests/{ref}/solve/", {}),
        ("post", f"/portal/requests/{ref}/reopen/", {"reason": "не"}),
        ("post", f"/portal/requests/{ref}/rate/", {"score": "1"}),
        ("get", f"/portal/attachments/{attachment.pk}/", {}),
    ]


@pytest.mark.parametrize("who", ["teacher_b", "director_b", "teacher_a_colleague", "outsider"])
def test_others_get_404_everywhere_and_change_nothing(client, cast, ticket, who):
    client.force_login(getattr(cast, who))
    events = TicketEvent.objects.filter(ticket=ticket).count()
    for method, url, data in urls(ticket):
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (who, url, response.status_code)
        assert ticket.reference not in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    assert ticket.satisfaction is None
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert TicketEvent.objects.filter(ticket=ticket).count() == events


def test_an_unknown_reference_looks_the_same_as_a_hidden_one(client, cast, ticket):
    client.force_login(cast.teacher_b)
    hidden = client.get(f"/portal/requests/{ticket.reference}/")
    missing = client.get("/portal/requests/99-999999/")
    assert hidden.status_code == missing.status_code == 404


def test_the_requester_and_the_director_may_open_it(client, cast, ticket):
    for user in (cast.teacher_a, cast.director_a, cast.ict_a):
        client.force_login(user)
        assert client.get(f"/portal/requests/{ticket.reference}/").status_code == 200
        attachment = ticket.attachments.get()
        assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in(client, cast, ticket):
    for method, url, data in urls(ticket):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_a_file_on_an_internal_note_is_not_for_the_requester(client, cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        text="ВЪТРЕШНО: проверих в регистъра",
        kind="internal",
        channel="console",
        files=[check_file("internal.png", png_bytes())],
    )
    attachment = ticket.attachments.get()
    client.force_login(cast.teacher_a)
    page = client.get(f"/portal/requests/{ticket.reference}/").content.decode()
    assert "ВЪТРЕШНО" not in page
    assert "internal.png" not in page
    assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 404
    # Support staff who see the ticket may fetch it.
    client.force_login(cast.expert_x)
    assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 200


def test_get_on_write_urls_is_refused(client, cast, ticket):
    client.force_login(cast.teacher_a)
    for action in ("reply", "solve", "reopen", "rate"):
        response = client.get(f"/portal/requests/{ticket.reference}/{action}/")
        assert response.status_code == 405
    assert Ticket.objects.get(pk=ticket.pk).status == "resolved"
