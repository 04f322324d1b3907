"""The console's services: merge, links, mass incidents, bulk actions, hand-off."""

import pytest
from django.core import mail

from helpdesk.errors import DomainError, InvalidTransition, NotAllowed
from helpdesk.uploads import check_file
from tickets import actions
from tickets.models import Attachment, MailThreadKey, Message, Status, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
    b"\x00\x00\x00IEND\xaeB`\x82"
)


def test_merge_moves_conversation_files_and_threads(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    target = make_ticket(subject="Дипломата не се качва")
    source = make_ticket(
        actor=cast.director_a,
        subject="Пак за дипломата",
        files=[check_file("scan.png", PNG)],
    )
    MailThreadKey.objects.create(mail_id="old@example.test", ticket=source, direction="in")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = actions.merge(source=source, target=target, actor=cast.expert_x)

    source.refresh_from_db()
    target.refresh_from_db()
    assert result.pk == target.pk
    assert source.merged_into_id == target.pk
    assert source.status == Status.CLOSED
    assert Message.objects.filter(ticket=source).count() == 0
    assert Message.objects.filter(ticket=target).count() == 2
    assert target.message_count == 2
    assert target.has_attachments
    assert Attachment.objects.filter(ticket=target, original_name="scan.png").exists()
    assert MailThreadKey.objects.get(mail_id="old@example.test").ticket_id == target.pk
    # The other requester is copied on the target's replies from now on.
    assert target.watchers.filter(user=cast.director_a, source="merge").exists()
    assert TicketEvent.objects.filter(
        ticket=target, kind="watcher", new_value=cast.director_a.email
    ).exists()
    assert target.related.filter(pk=source.pk).exists()
    assert TicketEvent.objects.filter(ticket=source, kind="merged").exists()
    assert TicketEvent.objects.filter(ticket=target, kind="merged", old_value=source.reference)
    # The requester of the merged request is told where it went.
    told = [m for m in mail.outbox if cast.director_a.email in m.to]
    assert len(told) == 1 and target.reference in told[0].body


def test_merge_refuses_self_twice_and_closed_target(cast, make_ticket):
    one, two, three = make_ticket(), make_ticket(), make_ticket()
    with pytest.raises(DomainError):
        actions.merge(source=one, target=one, actor=cast.expert_x)
    actions.merge(source=one, target=two, actor=cast.expert_x)
    with pytest.raises(InvalidTransition):
        actions.merge(source=one, target=three, actor=cast.expert_x)
    with pytest.raises(DomainError):
        actions.merge(source=three, target=one, actor=cast.expert_x)
    actions.change_status(ticket=three, actor=cast.expert_x, status=Status.CLOSED)
    four = make_ticket()
    with pytest.raises(InvalidTransition):
        actions.merge(source=four, target=three, actor=cast.expert_x)


def test_merge_needs_sight_of_both(cast, make_ticket):
    mine = make_ticket()
    other_region = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    with pytest.raises(NotAllowed):
        actions.merge(source=mine, target=other_region, actor=cast.expert_x)
    with pytest.raises(NotAllowed):
        actions.merge(source=mine, target=other_region, actor=cast.teacher_a)
    assert Ticket.objects.get(pk=mine.pk).merged_into_id is None


def test_link_related_both_ways_and_unlink(cast, make_ticket):
    one, two = make_ticket(), make_ticket()
    actions.link_related(ticket=one, other=two, actor=cast.expert_x)
    assert two.related.filter(pk=one.pk).exists()
    assert TicketEvent.objects.filter(ticket=two, kind="linked", new_value=one.reference)
    actions.unlink_related(ticket=two, other=one, actor=cast.expert_x)
    assert not one.related.exists()


def _incident_with_children(cast, make_ticket, n=3):
    incident = make_ticket(subject="Модулът за дипломи не работи")
    requesters = [cast.teacher_a, cast.director_a, cast.ict_a, cast.deputy_a][:n]
    children = [make_ticket(actor=r, subject=f"Не работи {i}") for i, r in enumerate(requesters)]
    for child in children:
        actions.link_to_incident(ticket=child, incident=incident, actor=cast.expert_x)
    return incident, children, requesters


def test_link_to_incident_marks_parent_and_refuses_nesting(cast, make_ticket):
    incident, children, _people = _incident_with_children(cast, make_ticket, 2)
    incident.refresh_from_db()
    assert incident.is_incident
    assert set(incident.children.values_list("pk", flat=True)) == {c.pk for c in children}
    with pytest.raises(DomainError):
        actions.link_to_incident(ticket=incident, incident=children[0], actor=cast.expert_x)
    with pytest.raises(DomainError):
        actions.set_incident(ticket=incident, actor=cast.expert_x, is_incident=False)
    actions.link_to_incident(ticket=children[0], incident=None, actor=cast.expert_x)
    children[0].refresh_from_db()
    assert children[0].parent_id is None


def test_incident_reply_reaches_every_linked_requester_in_their_own_ticket(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    incident, children, requesters = _incident_with_children(cast, make_ticket, 3)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        result = actions.reply_to_incident(
            incident=incident,
            actor=cast.expert_x,
            text="Проблемът е отстранен, моля опитайте отново.",
            new_status=Status.RESOLVED,
        )

    assert sorted(result.done) == sorted(c.reference for c in children)
    assert result.failed == []
    for child in children:
        child.refresh_from_db()
        assert child.status == Status.RESOLVED
        last = Message.objects.filter(ticket=child).latest("id")
        assert last.body_text.startswith("Проблемът е отстранен")
        assert last.from_staff and last.kind == "public"
    # One mail per linked requester (plus the incident's own requester), each
    # carrying its own ticket's reference.
    for person, child in zip(requesters, children):
        theirs = [m for m in mail.outbox if person.email in m.to and child.reference in m.subject]
        assert len(theirs) == 1, person.email
        assert "Проблемът е отстранен" in theirs[0].body


def test_incident_reply_skips_closed_children_without_failing(cast, make_ticket):
    incident, children, _people = _incident_with_children(cast, make_ticket, 2)
    actions.change_status(ticket=children[0], actor=cast.expert_x, status=Status.CLOSED)
    result = actions.reply_to_incident(incident=incident, actor=cast.expert_x, text="Поправено.")
    assert result.done == [children[1].reference]


def test_status_with_children(cast, make_ticket):
    incident, children, _people = _incident_with_children(cast, make_ticket, 3)
    result = actions.change_status_with_children(
        ticket=incident, actor=cast.expert_x, status=Status.RESOLVED
    )
    assert len(result.done) == 3
    assert set(Ticket.objects.filter(parent=incident).values_list("status", flat=True)) == {
        "resolved"
    }


def test_bulk_update_applies_per_ticket_and_reports_failures(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    ours = [make_ticket() for _ in range(3)]
    closed = make_ticket()
    actions.change_status(ticket=closed, actor=cast.expert_x, status=Status.CLOSED)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = actions.bulk_update(
            tickets=[*ours, closed], actor=cast.expert_x, action="close", text="Затваряме, решено."
        )
    assert sorted(result.done) == sorted(t.reference for t in ours)
    assert [ref for ref, _reason in result.failed] == [closed.reference]
    for t in ours:
        t.refresh_from_db()
        assert t.status == Status.CLOSED
        assert t.messages.filter(from_staff=True, body_text="Затваряме, решено.").exists()
    assert len([m for m in mail.outbox if "Затваряме" in m.body]) == 3


def test_bulk_assign_priority_status(cast, make_ticket):
    tickets = [make_ticket() for _ in range(2)]
    actions.bulk_update(tickets=tickets, actor=cast.expert_x, action="assign", value=cast.expert_x2)
    actions.bulk_update(tickets=tickets, actor=cast.expert_x, action="priority", value="high")
    actions.bulk_update(tickets=tickets, actor=cast.expert_x, action="status", value="waiting")
    for t in tickets:
        t.refresh_from_db()
        assert (t.assignee_id, t.priority, t.status) == (cast.expert_x2.pk, "high", "waiting")
    with pytest.raises(NotAllowed):
        actions.bulk_update(tickets=tickets, actor=cast.teacher_a, action="take")


def test_hand_off_by_supervisor_only(cast, make_ticket):
    tickets = [make_ticket() for _ in range(2)]
    for t in tickets:
        actions.assign(ticket=t, actor=cast.expert_x, assignee=cast.expert_x)
    with pytest.raises(NotAllowed):
        actions.hand_over_open_tickets(
            from_agent=cast.expert_x, to_agent=cast.expert_x2, actor=cast.expert_x, reason="x"
        )
    moved = actions.hand_over_open_tickets(
        from_agent=cast.expert_x, to_agent=cast.expert_x2, actor=cast.supervisor_x, reason="отпуск"
    )
    assert len(moved) == 2
    assert set(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list("assignee", flat=True)
    ) == {cast.expert_x2.pk}
