"""Rating from the resolution mail: a signed, expiring link to a small public page."""

import re

import pytest
from django.test import Client

from mailbridge.outbound import compose
from portal import views as portal_views
from tickets import actions, rating_links
from tickets.models import OutboundMail, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved_by_mail(cast):
    ticket = actions.file_from_mail(
        sender=None,
        requester_email="parent@abv.bg",
        subject="Удостоверение",
        text="Моля за удостоверение.",
        institution=cast.school_a,
    )
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Готово.", channel="console")
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    ticket.refresh_from_db()
    return ticket


def _link(ticket) -> str:
    row = OutboundMail.objects.get(ticket=ticket, kind="resolved")
    mail = compose(row)
    match = re.search(r"https?://\S+/portal/rate/(\S+)/", mail.body)
    assert match, mail.body
    html = mail.alternatives[0][0]
    assert match.group(0) in html
    return "/portal/rate/" + match.group(1) + "/"


def _csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def _post(client, url, data):
    page = client.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    return client.post(url, {**data, "csrfmiddlewaretoken": token.group(1) if token else ""})


def test_the_resolution_mail_links_to_a_form_that_rates_once(resolved_by_mail):
    ticket = resolved_by_mail
    url = _link(ticket)
    client = _csrf_client()
    page = client.get(url)
    assert page.status_code == 200
    assert ticket.reference in page.content.decode()
    assert "Моля за удостоверение" not in page.content.decode()

    answer = _post(client, url, {"score": "4", "comment": "Благодаря!"})
    assert answer.status_code == 200
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.satisfaction_comment) == (4, "Благодаря!")
    # The same again: nothing changes, no second history line.
    _post(client, url, {"score": "4", "comment": "Благодаря!"})
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RATED).count() == 1
    # A different rating replaces it, as in the portal.
    _post(client, url, {"score": "2", "comment": ""})
    ticket.refresh_from_db()
    assert ticket.satisfaction == 2
    assert TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.RATED).count() == 2


def test_without_the_csrf_token_nothing_is_written(resolved_by_mail):
    url = _link(resolved_by_mail)
    response = _csrf_client().post(url, {"score": "5"})
    assert response.status_code == 403
    resolved_by_mail.refresh_from_db()
    assert resolved_by_mail.satisfaction is None


def test_forged_expired_and_foreign_links_are_refused(resolved_by_mail, settings):
    ticket = resolved_by_mail
    url = _link(ticket)
    client = Client()
    assert client.get(url[:-3] + "xx/").status_code == 400
    assert client.get("/portal/rate/" + "a" * 500 + "/").status_code == 400
    other = rating_links.make_token(ticket.pk, "someone.else@abv.bg")
    response = client.post(f"/portal/rate/{other}/", {"score": "5"})
    assert response.status_code == 400
    missing = rating_links.make_token(ticket.pk + 1000, "parent@abv.bg")
    assert client.get(f"/portal/rate/{missing}/").status_code == 404
    settings.HELPDESK_RATING_LINK_DAYS = -1
    assert client.get(url).status_code == 400
    ticket.refresh_from_db()
    assert ticket.satisfaction is None


def test_bad_input_is_a_400_and_an_open_request_cannot_be_rated(cast, resolved_by_mail):
    url = _link(resolved_by_mail)
    client = Client()
    assert client.post(url, {"score": "9"}).status_code == 400
    assert client.post(url, {"score": "3", "comment": "x" * 3000}).status_code == 400
    actions.change_status(ticket=resolved_by_mail, actor=cast.expert_x, status="open")
    assert client.post(url, {"score": "3"}).status_code == 400
    resolved_by_mail.refresh_from_db()
    assert resolved_by_mail.satisfaction is None


def test_posts_are_rate_limited(resolved_by_mail, monkeypatch):
    monkeypatch.setattr(portal_views, "RATING_LINK_POSTS", 2)
    url = _link(resolved_by_mail)
    client = Client()
    assert client.post(url, {"score": "9"}).status_code == 400
    assert client.post(url, {"score": "9"}).status_code == 400
    assert client.post(url, {"score": "5"}).status_code == 429
    resolved_by_mail.refresh_from_db()
    assert resolved_by_mail.satisfaction is None
