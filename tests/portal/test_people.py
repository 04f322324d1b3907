"""Colleagues on a request from the portal: who may add whom, removing, following, bad input."""

import pytest
from django.test import Client
from django.urls import reverse

from tickets import actions
from tickets.models import OutboundMail, TicketEvent, Watcher

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def as_(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add(client, ticket, user_id):
    url = reverse("portal:watcher_add", args=[ticket.reference])
    return client.post(url, {"user": str(user_id)}, **EN)


def remove(client, watcher):
    url = reverse("portal:watcher_remove", args=[watcher.ticket.reference, watcher.pk])
    return client.post(url, **EN)


def page(client, ticket):
    return client.get(reverse("portal:ticket", args=[ticket.reference]), **EN)


def test_the_requester_adds_a_colleague_who_follows_it_and_gets_the_replies(cast, make_ticket):
    ticket = make_ticket()
    teacher = as_(cast.teacher_a)
    offered = page(teacher, ticket).content.decode()
    assert f'value="{cast.teacher_a_colleague.pk}"' in offered
    assert f'value="{cast.teacher_b.pk}"' not in offered  # another institution's teacher
    assert add(teacher, ticket, cast.teacher_a_colleague.pk).status_code == 302
    watcher = Watcher.objects.get()
    assert (watcher.user, watcher.source, watcher.added_by) == (
        cast.teacher_a_colleague,
        "portal",
        cast.teacher_a,
    )
    event = TicketEvent.objects.get(ticket=ticket, kind="watcher")
    assert event.channel == "portal" and event.new_value == cast.teacher_a_colleague.email
    # The colleague sees it among the requests they follow, and gets the next reply.
    colleague = as_(cast.teacher_a_colleague)
    listed = colleague.get(reverse("portal:list"), {"scope": "followed"}, **EN)
    assert ticket.reference in listed.content.decode()
    mine = colleague.get(reverse("portal:list"), **EN).content.decode()
    assert ticket.reference not in mine  # not their own request
    actions.add_message(ticket=ticket, actor=cast.expert_x, channel="console", text="Готово.")
    reply_to = {
        a for m in OutboundMail.objects.filter(ticket=ticket, kind="reply") for a in m.recipients
    }
    assert cast.teacher_a_colleague.email in reply_to


def test_a_colleague_of_another_institution_is_refused_with_400(cast, make_ticket):
    ticket = make_ticket()
    response = add(as_(cast.teacher_a), ticket, cast.teacher_b.pk)
    assert response.status_code == 400
    assert "does not work at the request" in response.content.decode()
    assert not Watcher.objects.exists()


@pytest.mark.parametrize("value", ["", "abc", "-1", "1" * 30, "99999999"])
def test_bad_input_is_refused_with_400_and_a_message(cast, make_ticket, value):
    ticket = make_ticket()
    response = add(as_(cast.teacher_a), ticket, value)
    assert response.status_code == 400
    assert "Choose a colleague from the list." in response.content.decode()
    assert not Watcher.objects.exists()


def test_strangers_do_not_reach_the_request(cast, make_ticket):
    ticket = make_ticket()
    assert add(as_(cast.teacher_b), ticket, cast.teacher_b.pk).status_code == 404
    # A colleague who may not see it yet may not add others either.
    response = add(as_(cast.teacher_a_colleague), ticket, cast.secretary_a.pk)
    assert response.status_code == 404
    assert not Watcher.objects.exists()


def test_the_director_may_add_a_colleague_to_any_request_of_the_institution(cast, make_ticket):
    ticket = make_ticket()
    assert add(as_(cast.director_a), ticket, cast.secretary_a.pk).status_code == 302
    assert Watcher.objects.get().user == cast.secretary_a


def test_who_may_remove_whom(cast, make_ticket):
    ticket = make_ticket()
    add(as_(cast.director_a), ticket, cast.secretary_a.pk)
    add(as_(cast.teacher_a), ticket, cast.teacher_a_colleague.pk)
    secretary = Watcher.objects.get(user=cast.secretary_a)
    # A follower may not take off someone else they did not add.
    response = remove(as_(cast.teacher_a_colleague), secretary)
    assert response.status_code == 400
    assert "may not remove" in response.content.decode()
    # The requester may.
    assert remove(as_(cast.teacher_a), secretary).status_code == 302
    assert not Watcher.objects.filter(user=cast.secretary_a).exists()
    removed = TicketEvent.objects.get(
        ticket=ticket, kind="watcher", old_value=cast.secretary_a.email
    )
    assert removed.actor == cast.teacher_a and removed.channel == "portal"


def test_a_follower_stops_following_and_no_longer_sees_it(cast, make_ticket):
    ticket = make_ticket()
    add(as_(cast.teacher_a), ticket, cast.teacher_a_colleague.pk)
    colleague = as_(cast.teacher_a_colleague)
    assert "Stop following" in page(colleague, ticket).content.decode()
    response = remove(colleague, Watcher.objects.get())
    assert response.status_code == 302 and response["Location"] == reverse("portal:list")
    assert page(colleague, ticket).status_code == 404
    assert "tab-followed" not in colleague.get(reverse("portal:list")).content.decode()


def test_a_watcher_of_another_request_is_not_found_through_this_one(cast, make_ticket):
    ticket, other = make_ticket(), make_ticket()
    add(as_(cast.teacher_a), other, cast.teacher_a_colleague.pk)
    watcher = Watcher.objects.get()
    url = reverse("portal:watcher_remove", args=[ticket.reference, watcher.pk])
    assert as_(cast.teacher_a).post(url).status_code == 404
    assert Watcher.objects.exists()
