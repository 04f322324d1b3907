"""Delegation: the services' rules, the director's pages, and access that ends on time."""

import datetime

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccountEvent, Delegation
from helpdesk.errors import DomainError, InvalidTransition, NotAllowed

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def grant(cast, **kw):
    now = timezone.now()
    kw.setdefault("actor", cast.director_a)
    kw.setdefault("institution", cast.school_a)
    kw.setdefault("delegate", cast.teacher_a)
    kw.setdefault("valid_from", now)
    kw.setdefault("valid_until", now + 7 * DAY)
    return account_services.grant_delegation(**kw)


# --- the services ------------------------------------------------------------------


def test_grant_records_who_did_it(cast):
    delegation = grant(cast, note="За ваканцията")
    assert delegation.rights == ["file", "follow"]
    assert delegation.granted_by == cast.director_a
    assert delegation.is_active()
    event = AccountEvent.objects.get(delegation=delegation)
    assert event.kind == "delegation_granted"
    assert event.actor == cast.director_a
    assert event.institution == cast.school_a
    assert event.detail["delegate"] == cast.teacher_a.email
    assert event.detail["rights"] == ["file", "follow"]


def test_revoke_records_who_did_it_and_ends_at_once(cast):
    delegation = grant(cast)
    revoked = account_services.revoke_delegation(actor=cast.director_a, delegation=delegation)
    assert revoked.revoked_by == cast.director_a
    assert revoked.revoked_at is not None
    assert not Delegation.objects.active().filter(pk=delegation.pk).exists()
    event = AccountEvent.objects.get(delegation=delegation, kind="delegation_revoked")
    assert event.actor == cast.director_a
    assert event.detail["was"] == "active"
    with pytest.raises(InvalidTransition):
        account_services.revoke_delegation(actor=cast.director_a, delegation=delegation)


@pytest.mark.parametrize("who", ["deputy_a", "ict_a", "teacher_a_colleague", "director_b", "admin"])
def test_only_the_director_grants(cast, who):
    with pytest.raises(NotAllowed):
        grant(cast, actor=getattr(cast, who))
    assert not Delegation.objects.exists()
    assert not AccountEvent.objects.exists()


def test_a_delegate_cannot_delegate_further(cast):
    grant(cast)
    with pytest.raises(NotAllowed):
        grant(cast, actor=cast.teacher_a, delegate=cast.teacher_a_colleague)


def test_only_the_director_revokes(cast):
    delegation = grant(cast)
    for who in (cast.director_b, cast.teacher_a, cast.deputy_a):
        with pytest.raises(NotAllowed):
            account_services.revoke_delegation(actor=who, delegation=delegation)
    delegation.refresh_from_db()
    assert delegation.revoked_at is None


def shifted(minutes=0, days=0):
    return timezone.now() + datetime.timedelta(minutes=minutes, days=days)


TOMORROW = shifted(days=1)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"delegate": "teacher_b"}, "delegate"),  # another school
        ({"delegate": "director_a"}, "delegate"),  # oneself
        ({"delegate": "outsider"}, "delegate"),  # no institution at all
        ({"rights": []}, "rights"),
        ({"rights": ["file", "manage"]}, "rights"),
        ({"valid_from": shifted(days=2), "valid_until": shifted(days=1)}, "valid_until"),
        ({"valid_from": TOMORROW, "valid_until": TOMORROW}, "valid_until"),
        ({"valid_from": shifted(minutes=-5)}, "valid_from"),
        ({"valid_until": shifted(days=400)}, "valid_until"),
    ],
)
def test_bad_grants_are_refused(cast, kw, field):
    for key in ("delegate",):
        if key in kw:
            kw[key] = getattr(cast, kw[key])
    with pytest.raises(DomainError) as error:
        grant(cast, **kw)
    assert error.value.field == field
    assert not Delegation.objects.exists()


def test_a_start_a_few_seconds_ago_is_accepted(cast):
    delegation = grant(cast, valid_from=timezone.now() - datetime.timedelta(seconds=30))
    assert delegation.is_active()


def test_no_overlapping_delegations_to_the_same_person(cast):
    first = grant(cast, valid_from=shifted(days=1), valid_until=shifted(days=10))
    with pytest.raises(DomainError) as error:
        grant(cast, valid_from=shifted(days=5), valid_until=shifted(days=20))
    assert error.value.field == "delegate"
    # Back to back is fine, and so is a new one once the first is revoked.
    grant(cast, valid_from=shifted(days=10), valid_until=shifted(days=12))
    account_services.revoke_delegation(actor=cast.director_a, delegation=first)
    grant(cast, valid_from=shifted(days=2), valid_until=shifted(days=3))
    # Another colleague at the same time is fine.
    grant(cast, delegate=cast.teacher_a_colleague, valid_from=shifted(days=1))


# --- access follows the period -------------------------------------------------------


@pytest.fixture
def colleague_ticket(cast, make_ticket):
    return make_ticket(actor=cast.teacher_a_colleague, subject="Заявка на колегата")


def can_open(client, ticket) -> int:
    return client.get(f"/portal/requests/{ticket.reference}/").status_code


def test_access_starts_and_ends_with_the_delegation(client, cast, colleague_ticket):
    client.force_login(cast.teacher_a)
    assert can_open(client, colleague_ticket) == 404

    delegation = grant(cast)
    assert can_open(client, colleague_ticket) == 200
    listed = client.get("/portal/?scope=institution").content.decode()
    assert colleague_ticket.reference in listed
    # Filing rights bring the priority choice a teacher otherwise lacks.
    assert 'name="priority"' in client.get("/portal/new/").content.decode()

    account_services.revoke_delegation(actor=cast.director_a, delegation=delegation)
    assert can_open(client, colleague_ticket) == 404
    assert (
        colleague_ticket.reference not in client.get("/portal/?scope=institution").content.decode()
    )
    assert 'name="priority"' not in client.get("/portal/new/").content.decode()


def test_an_expired_delegation_gives_nothing(client, cast, colleague_ticket):
    delegation = grant(cast)
    Delegation.objects.filter(pk=delegation.pk).update(
        valid_from=timezone.now() - 3 * DAY, valid_until=timezone.now() - DAY
    )
    client.force_login(cast.teacher_a)
    assert can_open(client, colleague_ticket) == 404
    attachment_free_urls = [
        f"/portal/requests/{colleague_ticket.reference}/reply/",
        f"/portal/requests/{colleague_ticket.reference}/solve/",
    ]
    for url in attachment_free_urls:
        assert client.post(url, {"text": "x"}).status_code == 404
    delegation.refresh_from_db()
    assert delegation.state == "expired"
    with pytest.raises(InvalidTransition):
        account_services.revoke_delegation(actor=cast.director_a, delegation=delegation)


def test_a_scheduled_delegation_gives_nothing_yet(client, cast, colleague_ticket):
    grant(cast, valid_from=shifted(days=1), valid_until=shifted(days=3))
    client.force_login(cast.teacher_a)
    assert can_open(client, colleague_ticket) == 404


def test_the_boundaries_are_exact(cast, colleague_ticket):
    from tickets.models import Ticket

    start, end = shifted(days=1), shifted(days=2)
    grant(cast, valid_from=start, valid_until=end)
    visible = Ticket.objects.visible_to
    tiny = datetime.timedelta(microseconds=1)
    assert not visible(cast.teacher_a, at=start - tiny).filter(pk=colleague_ticket.pk).exists()
    assert visible(cast.teacher_a, at=start).filter(pk=colleague_ticket.pk).exists()
    assert visible(cast.teacher_a, at=end - tiny).filter(pk=colleague_ticket.pk).exists()
    assert not visible(cast.teacher_a, at=end).filter(pk=colleague_ticket.pk).exists()


# --- the pages -----------------------------------------------------------------------

PAGE = "/portal/delegations/"


def test_the_director_sees_the_menu_and_the_page(client, cast):
    client.force_login(cast.director_a)
    home = client.get("/portal/").content.decode()
    assert f'href="{PAGE}"' in home
    html = client.get(PAGE).content.decode()
    for person in (cast.teacher_a, cast.deputy_a, cast.secretary_a):
        assert f'data-email="{person.email}"' in html
    assert f'data-email="{cast.director_a.email}"' not in html
    assert cast.teacher_b.email not in html


@pytest.mark.parametrize("who", ["teacher_a", "deputy_a", "outsider", "expert_x"])
def test_others_have_no_menu_and_no_page(client, cast, who):
    client.force_login(getattr(cast, who))
    assert f'href="{PAGE}"' not in client.get("/portal/").content.decode()
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE + "grant/", {}).status_code == 404


def test_a_delegate_cannot_manage_delegations(client, cast):
    delegation = grant(cast)
    client.force_login(cast.teacher_a)
    assert f'href="{PAGE}"' not in client.get("/portal/").content.decode()
    assert client.get(PAGE).status_code == 404
    assert client.post(f"{PAGE}{delegation.pk}/revoke/").status_code == 404
    delegation.refresh_from_db()
    assert delegation.revoked_at is None


def test_grant_and_revoke_through_the_pages(client, cast):
    client.force_login(cast.director_a)
    start = timezone.localtime() + datetime.timedelta(minutes=5)
    end = start + 3 * DAY
    response = client.post(
        PAGE + "grant/",
        {
            "institution": cast.school_a.pk,
            "delegate": cast.teacher_a.pk,
            "rights": ["file", "follow"],
            "valid_from": start.strftime("%Y-%m-%dT%H:%M"),
            "valid_until": end.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert delegation.delegate == cast.teacher_a
    assert timezone.localtime(delegation.valid_from).strftime("%H:%M") == start.strftime("%H:%M")
    html = client.get(PAGE).content.decode()
    assert 'data-state="scheduled"' in html

    # Revoking asks first, on a page of its own: nothing changes until "yes".
    html = client.get(f"{PAGE}{delegation.pk}/revoke/").content.decode()
    assert 'data-test="confirm-revoke"' in html and cast.teacher_a.email in html
    assert client.post(f"{PAGE}{delegation.pk}/revoke/").status_code == 200
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    response = client.post(f"{PAGE}{delegation.pk}/revoke/", {"confirm": "yes"})
    assert response.status_code == 302
    delegation.refresh_from_db()
    assert delegation.revoked_by == cast.director_a
    html = client.get(PAGE).content.decode()
    assert 'data-state="revoked"' in html


def test_a_bad_grant_keeps_the_form(client, cast):
    client.force_login(cast.director_a)
    start = timezone.localtime() + DAY
    response = client.post(
        PAGE + "grant/",
        {
            "institution": cast.school_a.pk,
            "delegate": cast.teacher_a.pk,
            "rights": ["follow"],
            "valid_from": start.strftime("%Y-%m-%dT%H:%M"),
            "valid_until": (start - HOUR).strftime("%Y-%m-%dT%H:%M"),
            "note": "бележка",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="#id_valid_until"' in html
    assert 'value="бележка"' in html
    assert not Delegation.objects.exists()


def test_another_director_cannot_revoke(client, cast):
    delegation = grant(cast)
    client.force_login(cast.director_b)
    assert client.post(f"{PAGE}{delegation.pk}/revoke/").status_code == 404
    delegation.refresh_from_db()
    assert delegation.revoked_at is None


def test_the_grant_form_needs_csrf(cast):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.director_a)
    assert client.post(PAGE + "grant/", {"delegate": cast.teacher_a.pk}).status_code == 403


def test_a_start_left_at_the_forms_default_means_now(client, cast):
    client.force_login(cast.director_a)
    opened = timezone.localtime() - datetime.timedelta(minutes=4)
    response = client.post(
        PAGE + "grant/",
        {
            "institution": cast.school_a.pk,
            "delegate": cast.teacher_a.pk,
            "rights": ["file", "follow"],
            "valid_from": opened.strftime("%Y-%m-%dT%H:%M"),
            "valid_until": (opened + DAY).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    assert delegation.is_active()
    assert delegation.valid_from > opened


def test_a_start_long_ago_is_refused_in_the_form(client, cast):
    client.force_login(cast.director_a)
    start = timezone.localtime() - DAY
    response = client.post(
        PAGE + "grant/",
        {
            "institution": cast.school_a.pk,
            "delegate": cast.teacher_a.pk,
            "rights": ["file"],
            "valid_from": start.strftime("%Y-%m-%dT%H:%M"),
            "valid_until": (start + 3 * DAY).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert 'href="#id_valid_from"' in response.content.decode()
    assert not Delegation.objects.exists()
