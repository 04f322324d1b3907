"""The console's pages and actions, through the test client."""

import pytest
from django.core import mail
from django.urls import reverse

from console.filters import QUEUE_KEYS
from helpdesk.uploads import check_file
from tickets import actions
from tickets.models import CannedResponse, Message, SavedFilter, Status, Ticket

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# Queries of one page view, whatever the number of rows: session, user, agent
# profile, memberships and delegations (visible_to), announcements, the page's
# own few reads. The exact figures are below these bounds. The ticket page has
# one read per side card: people, tags, field answers, macros, time spent, the
# notification bell.
QUEUE_MAX_QUERIES = 16
TICKET_MAX_QUERIES = 22


def queue_url(key="mine"):
    return reverse("console:queue_key", args=[key])


def ticket_url(ticket, action=None):
    if action:
        return reverse(f"console:{action}", args=[ticket.reference])
    return reverse("console:ticket", args=[ticket.reference])


# --- access -------------------------------------------------------------------------


def test_console_is_for_agents_only(client, cast, make_ticket):
    ticket = make_ticket()
    response = client.get(reverse("console:queue"))
    assert response.status_code == 302 and "/accounts/login" in response["Location"]
    for person in (cast.teacher_a, cast.director_a, cast.outsider):
        client.force_login(person)
        assert client.get(reverse("console:queue")).status_code == 403
        assert client.get(ticket_url(ticket)).status_code == 403
        assert client.post(ticket_url(ticket, "take")).status_code == 403


def test_agent_of_another_region_gets_404_everywhere(login, cast, make_ticket):
    ticket = make_ticket(files=[check_file("scan.png", PNG)])
    client = login(cast.expert_y)
    assert client.get(ticket_url(ticket)).status_code == 404
    assert client.get(ticket_url(ticket, "messages")).status_code == 404
    assert (
        client.post(ticket_url(ticket, "reply"), {"kind": "public", "text": "x"}).status_code == 404
    )
    assert client.post(ticket_url(ticket, "take")).status_code == 404
    attachment = ticket.attachments.get()
    assert client.get(reverse("console:attachment", args=[attachment.pk])).status_code == 404
    assert client.get(reverse("console:row", args=[ticket.pk]) + "?queue=all").status_code == 204
    page = client.get(queue_url("all")).content.decode()
    assert ticket.reference not in page


@pytest.mark.parametrize("key", list(QUEUE_KEYS))
def test_every_queue_renders_for_every_kind_of_agent(client, cast, make_ticket, key):
    make_ticket()
    for person in (cast.expert_x, cast.central, cast.supervisor_x, cast.supervisor_all, cast.admin):
        client.force_login(person)
        response = client.get(queue_url(key) + "?sort=priority")
        assert response.status_code == 200, (person, key)


def test_unknown_queue_is_404(login, cast):
    assert login(cast.expert_x).get(queue_url("nope")).status_code == 404


# --- query counts ----------------------------------------------------------------------


def _fill(cast, make_ticket, n):
    for i in range(n):
        ticket = make_ticket(subject=f"Диплома {i}", files=[check_file(f"s{i}.png", PNG)])
        actions.add_message(ticket=ticket, actor=cast.expert_x, text="Бележка", kind="internal")
        if i % 2:
            actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)


@pytest.mark.parametrize("key", list(QUEUE_KEYS))
def test_queue_queries_do_not_grow_with_rows(
    login, cast, make_ticket, key, django_assert_max_num_queries
):
    client = login(cast.expert_x)
    _fill(cast, make_ticket, 2)
    with django_assert_max_num_queries(QUEUE_MAX_QUERIES):
        assert client.get(queue_url(key)).status_code == 200
    _fill(cast, make_ticket, 30)
    with django_assert_max_num_queries(QUEUE_MAX_QUERIES):
        response = client.get(queue_url(key) + "?q=диплом&sort=updated")
        assert response.status_code == 200


def test_ticket_page_queries_do_not_grow_with_conversation(
    login, cast, make_ticket, django_assert_max_num_queries
):
    client = login(cast.expert_x)
    incident = make_ticket(subject="Срив")
    with django_assert_max_num_queries(TICKET_MAX_QUERIES):
        assert client.get(ticket_url(incident)).status_code == 200
    for i in range(12):
        actions.add_message(
            ticket=incident,
            actor=cast.teacher_a if i % 2 else cast.expert_x,
            text=f"Съобщение {i}",
            files=[check_file(f"f{i}.png", PNG), check_file(f"f{i}.pdf", PDF)],
        )
        child = make_ticket(subject=f"Дете {i}")
        actions.link_to_incident(ticket=child, incident=incident, actor=cast.expert_x)
        actions.link_related(ticket=incident, other=make_ticket(), actor=cast.expert_x)
    CannedResponse.objects.create(title="Здравейте", body="Здравейте, {requester_name}!")
    with django_assert_max_num_queries(TICKET_MAX_QUERIES):
        response = client.get(ticket_url(incident))
    assert response.status_code == 200
    assert response.content.decode().count('class="preview"') == 24


def test_dashboard_and_reports_queries_are_bounded(
    login, cast, make_ticket, django_assert_max_num_queries
):
    client = login(cast.supervisor_all)
    _fill(cast, make_ticket, 3)
    # 14 for the charts; 5 more for satisfaction (3), its comments and SLA per
    # week; 3 more for the notification bell's count and the two time-spent sums;
    # 2 for the person's rights while the rights cache is cold (memberships with
    # their institutions, delegations: accounts/rights_cache.py; 0 once warm).
    with django_assert_max_num_queries(24):
        assert client.get(reverse("console:dashboard")).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(reverse("console:report", args=["load"])).status_code == 200


# --- the ticket page ---------------------------------------------------------------------


def test_ticket_page_tells_notes_from_replies(login, cast, make_ticket):
    ticket = make_ticket()
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Публичен отговор")
    actions.add_message(ticket=ticket, actor=cast.expert_x, text="Само за нас", kind="internal")
    page = login(cast.expert_x).get(ticket_url(ticket)).content.decode()
    assert 'class="internal"' in page and 'class="from-staff"' in page
    assert page.index("Публичен отговор") < page.index("Само за нас")
    assert cast.school_a.code in page and "София" in page  # institution code and region


def test_institution_other_open_tickets_are_listed_and_bounded(login, cast, make_ticket):
    first = make_ticket(subject="Главна")
    others = [make_ticket(subject=f"Друга {i}") for i in range(12)]
    page = login(cast.expert_x).get(ticket_url(first)).content.decode()
    assert others[-1].reference in page
    assert sum(t.reference in page for t in others) == 10


def test_canned_responses_are_filled_for_the_ticket(login, cast, make_ticket):
    ticket = make_ticket()
    CannedResponse.objects.create(
        competence=cast.diplomas,
        title="Сканиране",
        body="Здравейте, {requester_name}! По заявка {reference}: {unknown}",
    )
    CannedResponse.objects.create(competence=cast.competences["login"], title="Вход", body="x")
    page = login(cast.expert_x).get(ticket_url(ticket)).content.decode()
    assert f"Здравейте, Учител А! По заявка {ticket.reference}: {{unknown}}" in page
    assert ">Вход<" not in page


def test_merged_reference_leads_to_the_target(login, cast, make_ticket):
    target, source = make_ticket(), make_ticket()
    client = login(cast.expert_x)
    response = client.post(
        ticket_url(source, "merge"), {"reference": target.reference, "confirm": "yes"}
    )
    assert response.status_code == 302 and response["Location"] == ticket_url(target)
    response = client.get(ticket_url(source))
    assert response.status_code == 302 and response["Location"] == ticket_url(target)


# --- acting ------------------------------------------------------------------------------


def test_reply_and_note(login, cast, make_ticket, django_capture_on_commit_callbacks):
    ticket = make_ticket()
    client = login(cast.expert_x)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            ticket_url(ticket, "reply"),
            {
                "kind": "public",
                "text": "Опитайте с по-малък файл.",
                "last_message_id": ticket.last_message_id,
                "new_status": "waiting",
                "files": [_upload("help.png", PNG)],
            },
        )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING
    message = ticket.messages.latest("id")
    assert message.from_staff and message.attachments.count() == 1
    assert [m.to for m in mail.outbox] == [[cast.teacher_a.email]]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            ticket_url(ticket, "reply"),
            {"kind": "internal", "text": "Бележка", "last_message_id": ticket.last_message_id},
        )
    assert ticket.messages.latest("id").kind == Message.Kind.INTERNAL
    assert mail.outbox == []


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_reply_over_a_newer_message_needs_confirmation(login, cast, make_ticket):
    ticket = make_ticket()
    seen = ticket.last_message_id
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Още нещо: и печатът липсва.")
    client = login(cast.expert_x)
    data = {"kind": "public", "text": "Отговор", "last_message_id": seen}
    response = client.post(ticket_url(ticket, "reply"), data)
    assert response.status_code == 409
    page = response.content.decode()
    assert "печатът липсва" in page and 'name="confirm_stale"' in page
    assert "Отговор</textarea>" in page  # the text is kept
    assert not ticket.messages.filter(body_text="Отговор").exists()
    response = client.post(ticket_url(ticket, "reply"), {**data, "confirm_stale": "on"})
    assert response.status_code == 302
    assert ticket.messages.filter(body_text="Отговор").exists()


def test_take_tells_who_was_faster(login, cast, make_ticket):
    ticket = make_ticket()
    Ticket.objects.filter(pk=ticket.pk).update(assignee=None)
    actions.take(ticket=ticket, actor=cast.supervisor_x)
    client = login(cast.expert_x)
    page = client.post(ticket_url(ticket, "take"), follow=True).content.decode()
    assert "msg-error" in page and "Началник X" in page
    assert Ticket.objects.get(pk=ticket.pk).assignee_id == cast.supervisor_x.pk


def test_status_priority_competence_assign_release_escalate(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    client.post(ticket_url(ticket, "status"), {"status": "open"})
    client.post(ticket_url(ticket, "priority"), {"priority": "urgent"})
    client.post(ticket_url(ticket, "competence"), {"competence": cast.competences["general"].pk})
    client.post(ticket_url(ticket, "assign"), {"assignee": cast.expert_x2.pk})
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.competence_id, ticket.assignee_id) == (
        "open",
        "urgent",
        cast.competences["general"].pk,
        cast.expert_x2.pk,
    )
    client.post(ticket_url(ticket, "release"))
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None
    response = client.post(
        ticket_url(ticket, "escalate"), {"tier": "central", "reason": ""}, follow=True
    )
    assert Ticket.objects.get(pk=ticket.pk).tier == "regional"
    client.post(ticket_url(ticket, "escalate"), {"tier": "central", "reason": "Грешка в модула"})
    assert Ticket.objects.get(pk=ticket.pk).tier == "central"
    assert response.status_code == 200


def test_link_and_incident_through_the_page(
    login, cast, make_ticket, django_capture_on_commit_callbacks
):
    incident = make_ticket(subject="Срив на модула")
    children = [make_ticket(actor=p) for p in (cast.teacher_a, cast.director_a, cast.ict_a)]
    client = login(cast.expert_x)
    client.post(ticket_url(incident, "incident"), {"is_incident": "on"})
    for child in children:
        client.post(ticket_url(incident, "incident_add"), {"reference": child.reference})
    client.post(ticket_url(children[0], "link"), {"reference": children[1].reference})
    assert set(Ticket.objects.get(pk=incident.pk).children.values_list("pk", flat=True)) == {
        c.pk for c in children
    }
    mail.outbox.clear()
    incident.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            ticket_url(incident, "reply"),
            {
                "kind": "public",
                "text": "Модулът работи отново.",
                "to_children": "on",
                "new_status": "resolved",
                "last_message_id": incident.last_message_id,
            },
        )
    assert response.status_code == 302
    for child in children:
        assert Ticket.objects.get(pk=child.pk).status == "resolved"
    reached = {address for m in mail.outbox if "Модулът работи" in m.body for address in m.to}
    assert {cast.teacher_a.email, cast.director_a.email, cast.ict_a.email} <= reached


def test_bulk_close_with_a_reply(login, cast, make_ticket):
    tickets = [make_ticket() for _ in range(3)]
    other_region = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    client = login(cast.expert_x)
    response = client.post(
        reverse("console:bulk"),
        {
            "ids": [t.pk for t in tickets] + [other_region.pk],
            "action": "close",
            "text": "Решено с обновлението.",
            "next": queue_url("all"),
            "confirm": "yes",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert set(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("status", flat=True)
    ) == {"closed"}
    assert Ticket.objects.get(pk=other_region.pk).status == "new"
    assert "msg-error" in response.content.decode()  # one was not the agent's to see


def test_saved_filters_belong_to_their_owner(login, cast):
    client = login(cast.expert_x)
    client.post(
        reverse("console:filter_save"),
        {"name": "Спешни", "queue": "all", "query": "priority=urgent&cursor=abc"},
    )
    saved = SavedFilter.objects.get(owner=cast.expert_x)
    assert saved.query == "priority=urgent"
    response = client.get(reverse("console:filter_open", args=[saved.pk]))
    assert response["Location"] == queue_url("all") + "?priority=urgent"
    assert "Спешни" in client.get(queue_url("all")).content.decode()
    client.force_login(cast.expert_x2)
    assert client.get(reverse("console:filter_open", args=[saved.pk])).status_code == 404
    client.post(reverse("console:filter_delete", args=[saved.pk]))
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


# --- live fragments and files ---------------------------------------------------------------


def test_row_endpoint_answers_only_for_the_list_it_is_asked_about(login, cast, make_ticket):
    ticket = make_ticket()
    client = login(cast.expert_x)
    url = reverse("console:row", args=[ticket.pk])
    response = client.get(url + "?queue=all")
    assert response.status_code == 200 and ticket.reference in response.content.decode()
    assert client.get(url + "?queue=all&priority=urgent").status_code == 204
    assert client.get(url + "?queue=triage").status_code == 204


def test_messages_fragment_returns_only_newer_messages(login, cast, make_ticket):
    ticket = make_ticket()
    first = ticket.last_message_id
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ново съобщение")
    html = (
        login(cast.expert_x)
        .get(ticket_url(ticket, "messages") + f"?after={first}")
        .content.decode()
    )
    assert "Ново съобщение" in html and f'data-message-id="{first}"' not in html


def test_attachments_inline_only_for_images_and_pdf(login, cast, make_ticket):
    ticket = make_ticket(
        files=[check_file("a.png", PNG), check_file("b.pdf", PDF), check_file("c.txt", b"hello\n")]
    )
    client = login(cast.expert_x)
    files = {a.original_name: a.pk for a in ticket.attachments.all()}
    url = lambda name: reverse("console:attachment", args=[files[name]])  # noqa: E731
    response = client.get(url("a.png") + "?inline=1")
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG
    assert client.get(url("a.png"))["Content-Disposition"].startswith("attachment")
    pdf = client.get(url("b.pdf") + "?inline=1")
    assert pdf["Content-Disposition"].startswith("inline")
    # The ticket page may embed the PDF in its <object>; no other page may.
    assert pdf["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'"
    assert pdf["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get(url("c.txt") + "?inline=1")["Content-Disposition"].startswith("attachment")


# --- dashboard --------------------------------------------------------------------------------


def test_dashboard_scope_follows_the_supervisor(login, cast, make_ticket):
    make_ticket()
    make_ticket(
        actor=cast.teacher_b, institution=cast.school_b, competence=cast.competences["login"]
    )
    client = login(cast.supervisor_x)
    page = client.get(reverse("console:dashboard")).content.decode()
    assert "<svg" in page and "Регистър на документите" in page
    assert "Вход и служебни" not in page  # the other region's competence
    csv_text = client.get(reverse("console:report", args=["backlog"])).content.decode("utf-8-sig")
    # Bulgarian readers get Bulgarian headers and ";" (tests/console/test_figures.py).
    assert csv_text.splitlines()[0] == (
        "Компетентност;под 1 ден;1–3 дни;3–7 дни;7–30 дни;над 30 дни;Общо"
    )
    assert len(csv_text.splitlines()) == 2
    client.force_login(cast.supervisor_all)
    csv_text = client.get(reverse("console:report", args=["backlog"])).content.decode("utf-8-sig")
    assert len(csv_text.splitlines()) == 3
    region = client.get(
        reverse("console:report", args=["backlog"]) + f"?region={cast.region_y.pk}"
    ).content.decode("utf-8-sig")
    assert "Вход и служебни" in region and "Регистър" not in region
    assert client.get(reverse("console:report", args=["nope"])).status_code == 404


def test_counts_endpoint_counts_afresh(login, cast, make_ticket):
    client = login(cast.expert_x)
    before = client.get(reverse("console:counts")).json()
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)
    after = client.get(reverse("console:counts")).json()
    assert after["mine"] == before["mine"] + 1
    assert set(after) == set(QUEUE_KEYS)


def test_supervisor_hands_over_an_experts_open_requests(login, cast, make_ticket):
    tickets = [make_ticket() for _ in range(2)]
    for t in tickets:
        actions.assign(ticket=t, actor=cast.expert_x, assignee=cast.expert_x)
    client = login(cast.expert_x2)
    assert 'id="handoff-title"' not in client.get(reverse("console:dashboard")).content.decode()
    client.post(reverse("console:handoff"), {"from_user": cast.expert_x.pk, "to_user": ""})
    assert Ticket.objects.filter(assignee=cast.expert_x).count() == 2
    client = login(cast.supervisor_x)
    assert 'id="handoff-title"' in client.get(reverse("console:dashboard")).content.decode()
    client.post(
        reverse("console:handoff"),
        {"from_user": cast.expert_x.pk, "to_user": cast.expert_x2.pk, "reason": "отпуск"},
    )
    assert Ticket.objects.filter(assignee=cast.expert_x2).count() == 2


def test_dashboard_pickers_and_load_table_list_experts_escaped(login, cast, make_ticket):
    """The hand-over pickers and the load table are joined in the view: still escaped."""
    cast.expert_x.full_name = "Ана <b>Иванова</b>"
    cast.expert_x.save(update_fields=["full_name"])
    ticket = make_ticket()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)
    page = login(cast.supervisor_x).get(reverse("console:dashboard")).content.decode()
    option = f'<option value="{cast.expert_x.pk}">Ана &lt;b&gt;Иванова&lt;/b&gt;</option>'
    assert page.count(option) == 2  # from whom, and to whom
    assert "<td>Ана &lt;b&gt;Иванова&lt;/b&gt;</td><td>1</td>" in page
    assert "<b>Иванова</b>" not in page


def test_csv_never_starts_a_cell_with_a_formula():
    from console.dashboard.reports import csv_safe

    assert [csv_safe(v) for v in ["=1+1", "+x", "-", "@a", "ok", 5]] == [
        "'=1+1",
        "'+x",
        "'-",
        "'@a",
        "ok",
        5,
    ]


def test_next_page_keeps_every_filter_value(login, cast, make_ticket):
    for _ in range(32):
        make_ticket()
    client = login(cast.expert_x)
    response = client.get(queue_url("all") + "?status=new&status=open&sort=created")
    next_query = response.context["next_query"]
    assert "status=new" in next_query and "status=open" in next_query
    second = client.get(queue_url("all") + "?" + next_query)
    first_refs = {t.reference for t in response.context["page"].rows}
    second_refs = {t.reference for t in second.context["page"].rows}
    assert len(first_refs) == 30 and len(second_refs) == 2
    assert not first_refs & second_refs


def test_assignee_drop_downs_follow_agent_changes_at_once(login, cast):
    """The agents of the queue page's drop-downs are cached; a change shows on the next page."""
    from accounts.models import AgentProfile, User

    client = login(cast.expert_x)
    assert "Нов Експерт" not in client.get(queue_url()).content.decode()
    user = User.objects.create_user(
        email="new.expert@ruo.bg", password="pw-Secret-123", full_name="Нов Експерт"
    )
    AgentProfile.objects.create(user=user, tier="regional", region=cast.region_x)
    assert client.get(queue_url()).content.decode().count("Нов Експерт") == 2  # filter, bulk bar
    user.full_name = "Преименуван Експерт"
    user.save()
    assert client.get(queue_url()).content.decode().count("Преименуван Експерт") == 2
    user.is_active = False
    user.save()
    assert "Преименуван Експерт" not in client.get(queue_url()).content.decode()
