"""The agent's day in the console: own canned replies, macros, time spent, signatures,
notifications and @mentions, through the pages."""

import pytest
from django.core import mail
from django.urls import reverse

from mailbridge.outbound import deliver
from tickets import actions
from tickets.models import (
    AgentSettings,
    CannedResponse,
    Macro,
    Message,
    Notification,
    OutboundMail,
    Ticket,
    TicketEvent,
)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def ticket_url(ticket, action=None):
    if action:
        return reverse(f"console:{action}", args=[ticket.reference])
    return reverse("console:ticket", args=[ticket.reference])


# --- personal canned replies ------------------------------------------------------------


def test_agent_adds_edits_and_deletes_own_canned_replies(login, cast, make_ticket):
    client = login(cast.expert_x)
    url = reverse("console:my_replies")
    response = client.post(url, {"title": "Моят поздрав", "body": "Здравейте, {{requester}}!"})
    assert response.status_code == 302
    canned = CannedResponse.objects.get(owner=cast.expert_x)
    ticket = make_ticket()
    page = client.get(ticket_url(ticket)).content.decode()
    assert "★ Моят поздрав" in page and 'data-text="Здравейте, Учител А!"' in page

    edit = reverse("console:my_reply_edit", args=[canned.pk])
    assert client.post(edit, {"title": "Нов", "body": "{{oops}}"}).status_code == 302
    page = client.get(ticket_url(ticket)).content.decode()
    assert 'data-unknown="{{oops}}"' in page  # flagged, left visible

    # Nobody else sees, edits or deletes it.
    other = login(cast.expert_x2)
    assert "★ Нов" not in other.get(ticket_url(ticket)).content.decode()
    assert other.get(edit).status_code == 404
    delete = reverse("console:my_reply_delete", args=[canned.pk])
    assert other.post(delete).status_code == 404
    assert CannedResponse.objects.filter(pk=canned.pk).exists()
    assert login(cast.expert_x).post(delete).status_code == 302
    assert not CannedResponse.objects.filter(pk=canned.pk).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"title": "", "body": "x"},
        {"title": "x" * 121, "body": "x"},
        {"title": "x", "body": "y" * 5001},
        {"title": "x"},
    ],
)
def test_bad_canned_reply_is_refused_with_400(login, cast, data):
    response = login(cast.expert_x).post(reverse("console:my_replies"), data)
    assert response.status_code == 400
    assert not CannedResponse.objects.exists()


def test_institution_staff_have_no_canned_replies(login, cast):
    client = login(cast.teacher_a)
    assert client.get(reverse("console:my_replies")).status_code == 403
    assert (
        client.post(reverse("console:my_replies"), {"title": "a", "body": "b"}).status_code == 403
    )


# --- macros -------------------------------------------------------------------------------


def test_macro_button_applies_the_macro(login, cast, make_ticket):
    macro = Macro.objects.create(title="Изчакване", body="Моля, изпратете скан.", status="waiting")
    ticket = make_ticket()
    client = login(cast.expert_x)
    page = client.get(ticket_url(ticket)).content.decode()
    assert 'data-test="macro"' in page and "Изчакване" in page
    before = TicketEvent.objects.filter(ticket=ticket).count()
    response = client.post(ticket_url(ticket, "macro"), {"macro": macro.pk, "minutes": "7"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert TicketEvent.objects.filter(ticket=ticket).count() == before + 1
    assert Message.objects.filter(ticket=ticket, minutes_spent=7).count() == 1


@pytest.mark.parametrize("value", ["", "abc", "-1", "99999999999999999999", "0"])
def test_macro_view_refuses_bad_or_foreign_ids(login, cast, make_ticket, value):
    Macro.objects.create(owner=cast.expert_x2, title="Чужд", priority="low")
    ticket = make_ticket()
    response = login(cast.expert_x).post(ticket_url(ticket, "macro"), {"macro": value})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_foreign_personal_macro_is_neither_shown_nor_applied(login, cast, make_ticket):
    macro = Macro.objects.create(owner=cast.expert_x2, title="Чужд макрос", priority="low")
    ticket = make_ticket()
    client = login(cast.expert_x)
    assert "Чужд макрос" not in client.get(ticket_url(ticket)).content.decode()
    client.post(ticket_url(ticket, "macro"), {"macro": macro.pk})
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_macro_on_an_invisible_ticket_is_404(login, cast, make_ticket):
    macro = Macro.objects.create(title="Вземи", assign="me")
    ticket = make_ticket()
    response = login(cast.expert_y).post(ticket_url(ticket, "macro"), {"macro": macro.pk})
    assert response.status_code == 404


# --- time spent --------------------------------------------------------------------------


def test_minutes_are_stored_and_summed_on_the_ticket_page(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    for minutes, kind in ((15, "public"), (30, "internal"), ("", "internal")):
        response = client.post(
            ticket_url(ticket, "reply"),
            {
                "kind": kind,
                "text": f"запис {minutes}",
                "minutes": minutes,
                "last_message_id": 0,
                "confirm_stale": "on",
            },
        )
        assert response.status_code == 302
    actions.add_message(ticket=ticket, actor=cast.expert_x2, kind="internal", text="x", minutes=5)
    page = client.get(ticket_url(ticket), **EN).content.decode()
    assert 'data-test="time-total">50 minutes' in page
    assert "Експерт X: 45" in page and "Експерт X2: 5" in page


@pytest.mark.parametrize("minutes", ["-1", "1441", "abc", "1e3", "99999999999999999999"])
def test_bad_minutes_are_refused_with_400_and_nothing_written(login, cast, make_ticket, minutes):
    ticket = make_ticket()
    count = Message.objects.filter(ticket=ticket).count()
    response = login(cast.expert_x).post(
        ticket_url(ticket, "reply"),
        {"kind": "internal", "text": "бележка", "minutes": minutes, "last_message_id": 0},
    )
    assert response.status_code == 400
    assert Message.objects.filter(ticket=ticket).count() == count


@pytest.mark.parametrize("minutes", [-1, 1441, True, "5", 2.5])
def test_the_action_refuses_bad_minutes(cast, make_ticket, minutes):
    from helpdesk.errors import DomainError

    ticket = make_ticket()
    with pytest.raises(DomainError):
        actions.add_message(
            ticket=ticket, actor=cast.expert_x, kind="internal", text="x", minutes=minutes
        )


def test_requesters_record_no_time(cast, make_ticket):
    from helpdesk.errors import NotAllowed

    with pytest.raises(NotAllowed):
        actions.add_message(ticket=make_ticket(), actor=cast.teacher_a, text="x", minutes=3)


def test_dashboard_sums_minutes_per_agent_and_competence(login, cast, make_ticket):
    diplomas = make_ticket()
    login_ticket = make_ticket(competence=cast.competences["login"])
    other_region = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    actions.add_message(ticket=diplomas, actor=cast.expert_x, text="a", minutes=20)
    actions.add_message(ticket=diplomas, actor=cast.expert_x, kind="internal", text="b", minutes=10)
    actions.add_message(
        ticket=login_ticket, actor=cast.expert_x2, kind="internal", text="c", minutes=7
    )
    actions.add_message(ticket=login_ticket, actor=cast.expert_x2, kind="internal", text="d")
    actions.add_message(
        ticket=other_region, actor=cast.expert_y, kind="internal", text="e", minutes=99
    )

    from console.dashboard.queries import Scope
    from console.dashboard.time_spent import time_spent

    class Request:
        GET = {}
        user = cast.supervisor_x

    figures = time_spent(Scope.from_request(Request))
    assert figures["total"] == 37  # region Y's 99 minutes are not the supervisor's to see
    assert [
        (r["name"], r["minutes"], r["entries"], r["requests"]) for r in figures["by_agent"]
    ] == [
        ("Експерт X", 30, 2, 1),
        ("Експерт X2", 7, 1, 1),
    ]
    by_competence = {r["name"]: r["minutes"] for r in figures["by_competence"]}
    assert by_competence == {cast.diplomas.name: 30, cast.competences["login"].name: 7}
    page = login(cast.supervisor_x).get(reverse("console:dashboard")).content.decode()
    assert 'data-test="time-by-agent"' in page and "Експерт X2" in page


# --- signatures ----------------------------------------------------------------------------


def test_signature_in_the_recipients_language_is_appended_to_mailed_replies(
    login, cast, make_ticket
):
    client = login(cast.expert_x)
    response = client.post(
        reverse("console:my_settings"),
        {
            "signature_bg": "Поздрави,\nЕксперт X, РУО",
            "signature_en": "Regards,\nExpert X",
            "reply_mail": "on",
        },
    )
    assert response.status_code == 302
    assert AgentSettings.objects.get(user=cast.expert_x).signature_en == "Regards,\nExpert X"
    cast.teacher_a.language = "en"
    cast.teacher_a.save()
    ticket = make_ticket()
    message = actions.add_message(ticket=ticket, actor=cast.expert_x, text="Answer text")
    mail.outbox.clear()
    deliver(OutboundMail.objects.filter(ticket_message=message).values_list("pk", flat=True))
    [sent] = mail.outbox
    assert "Answer text\n\nRegards,\nExpert X" in sent.body
    assert "Regards," in sent.alternatives[0][0]
    # An internal note is never mailed; a requester's mail is never signed.
    assert "Поздрави" not in sent.body


def test_signature_too_long_is_refused(login, cast):
    response = login(cast.expert_x).post(
        reverse("console:my_settings"), {"signature_bg": "x" * 1001, "signature_en": ""}
    )
    assert response.status_code == 400
    assert not AgentSettings.objects.exists()


# --- notifications and mentions ------------------------------------------------------------


def test_bell_list_and_mark_read(login, cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x, kind="internal", text="@expert.x2 ?")
    client = login(cast.expert_x2)
    page = client.get(reverse("console:queue")).content.decode()
    assert 'data-test="bell-count">1<' in page
    assert client.get(reverse("console:notification_count")).json() == {"unread": 1}
    listing = client.get(reverse("console:notifications")).content.decode()
    assert ticket.reference in listing
    row = Notification.objects.get(recipient=cast.expert_x2)
    response = client.post(reverse("console:notification_read"), {"id": row.pk, "open": "1"})
    assert response.status_code == 302 and response["Location"].endswith(ticket_url(ticket))
    assert client.get(reverse("console:notification_count")).json() == {"unread": 0}


def test_one_cannot_read_or_mark_anothers_notifications(login, cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x, kind="internal", text="@expert.x2 ?")
    row = Notification.objects.get(recipient=cast.expert_x2)
    client = login(cast.expert_x)
    listing = client.get(reverse("console:notifications")).content.decode()
    assert f'name="id" value="{row.pk}"' not in listing  # their own (routing) ones only
    assert client.post(reverse("console:notification_read"), {"id": row.pk}).status_code == 404
    assert client.post(reverse("console:notification_read"), {"id": "x"}).status_code == 400
    client.post(reverse("console:notification_read"), {"all": "1"})
    row.refresh_from_db()
    assert row.read_at is None


def test_mention_autocomplete_offers_only_colleagues_who_may_see_the_request(
    login, cast, make_ticket
):
    ticket = make_ticket()
    client = login(cast.expert_x)
    handles = {a["handle"] for a in client.get(ticket_url(ticket, "mentions")).json()["agents"]}
    assert "expert.x2" in handles and "supervisor.x" in handles
    assert "expert.y" not in handles  # another region
    assert "expert.x" not in handles  # oneself
    found = client.get(ticket_url(ticket, "mentions"), {"q": "@expert.y"}).json()
    assert found == {"agents": []}
    huge = client.get(ticket_url(ticket, "mentions"), {"q": "{" * 10_000})
    assert huge.status_code == 200 and huge.json() == {"agents": []}
    assert login(cast.expert_y).get(ticket_url(ticket, "mentions")).status_code == 404


def test_writer_is_told_when_a_mention_reaches_nobody(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    response = client.post(
        ticket_url(ticket, "reply"),
        {"kind": "internal", "text": "@expert.y и @expert.x2", "confirm_stale": "on"},
        follow=True,
        **EN,
    )
    page = response.content.decode()
    assert "Nobody was notified for @expert.y" in page
    assert "Notified: Експерт X2" in page
    assert not Notification.objects.filter(recipient=cast.expert_y).exists()
    assert Ticket.objects.visible_to(cast.expert_y).filter(pk=ticket.pk).count() == 0


def test_settings_page_saves_choices(login, cast):
    client = login(cast.expert_x)
    assert client.get(reverse("console:my_settings")).status_code == 200
    client.post(reverse("console:my_settings"), {"mention_console": "on", "sla_mail": "on"})
    row = AgentSettings.objects.get(user=cast.expert_x)
    assert row.mention_console and row.sla_mail and not row.reply_mail and not row.mention_mail


# --- personal macros -------------------------------------------------------------------------


def test_agent_keeps_personal_macros_that_only_they_see(login, cast, make_ticket):
    client = login(cast.expert_x)
    response = client.post(
        reverse("console:my_macro_add"),
        {
            "title": "Моят макрос",
            "body": "Здравейте, {{requester}}.",
            "reply_kind": "public",
            "status": "waiting",
            "priority": "",
            "competence": "",
            "assign": "",
        },
    )
    assert response.status_code == 302
    macro = Macro.objects.get(owner=cast.expert_x)
    assert macro.status == "waiting" and macro.competence is None
    ticket = make_ticket()
    assert "★ Моят макрос" in client.get(ticket_url(ticket)).content.decode()
    other = login(cast.expert_x2)
    assert "Моят макрос" not in other.get(ticket_url(ticket)).content.decode()
    assert other.post(reverse("console:my_macro_delete", args=[macro.pk])).status_code == 404
    assert Macro.objects.filter(pk=macro.pk).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"title": "Празен", "reply_kind": "public"},  # changes nothing
        {"title": "Тих", "body": "x", "reply_kind": "internal", "status": "closed"},
        {"title": "", "body": "x", "reply_kind": "public"},
        {"title": "x", "body": "x", "reply_kind": "public", "status": "nonsense"},
        {"title": "x", "body": "x", "reply_kind": "public", "competence": "999999"},
        {"title": "x", "body": "y" * 5001, "reply_kind": "public"},
    ],
)
def test_bad_personal_macros_are_refused_with_400(login, cast, data):
    response = login(cast.expert_x).post(reverse("console:my_macro_add"), data)
    assert response.status_code == 400
    assert not Macro.objects.exists()
