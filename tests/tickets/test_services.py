"""tickets.actions: the one write path.

Every service writes its history; status changes follow TRANSITIONS and the
actor's rights; bad input raises a DomainError and writes nothing; side
effects (mail) happen only after a commit.
"""

import datetime
import hashlib
import re

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone, translation

from accounts.models import Delegation, User
from helpdesk.errors import Conflict, DomainError, InvalidTransition, NotAllowed
from helpdesk.uploads import CheckedFile
from tickets import actions
from tickets.models import (
    TRANSITIONS,
    Attachment,
    Message,
    ReferenceCounter,
    Status,
    Ticket,
    TicketEvent,
)

pytestmark = pytest.mark.django_db

Kind = TicketEvent.Kind


@pytest.fixture
def ticket(make_ticket):
    """A new ticket of teacher A (school A, region X), routed to expert X."""
    return make_ticket()


def snapshot():
    """Everything a service could write, counted."""
    return {
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(),
        "attachments": Attachment.objects.count(),
        "references": sum(ReferenceCounter.objects.values_list("last", flat=True)),
        "ticket_rows": sorted(
            Ticket.objects.values_list(
                "pk", "status", "assignee_id", "priority", "tier", "competence_id", "satisfaction"
            )
        ),
    }


def refused(call, error=DomainError):
    """Run `call`, expect `error`, and check that nothing was written."""
    before = snapshot()
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, DomainError)
    assert str(info.value.message).strip(), "a domain error carries a message for people"
    assert snapshot() == before
    return info.value


def events(ticket, kind=None):
    qs = TicketEvent.objects.filter(ticket=ticket)
    return list(qs.filter(kind=kind) if kind else qs)


def set_status(ticket, status, **extra):
    """Put a ticket into a status directly, as the test's starting point."""
    Ticket.objects.filter(pk=ticket.pk).update(status=status, sla_paused_at=None, **extra)
    ticket.refresh_from_db()
    return ticket


def fresh(user):
    return User.objects.get(pk=user.pk)


def png(name="scan.png", payload=b"x"):
    content = b"\x89PNG\r\n\x1a\n" + payload
    return CheckedFile(
        name=name,
        content=content,
        size=len(content),
        content_type="image/png",
        sha256=hashlib.sha256(content).hexdigest(),
    )


# --- a history row from every service --------------------------------------------


def test_create_ticket_writes_created_and_routed(cast, ticket):
    assert [e.kind for e in events(ticket)] == [Kind.CREATED, Kind.ROUTED]
    created = events(ticket, Kind.CREATED)[0]
    assert created.actor == cast.teacher_a
    assert created.new_value == ticket.reference
    assert created.channel == "portal"
    assert ticket.messages.count() == 1
    assert ticket.message_count == 1


def test_create_ticket_links_an_earlier_request(cast, make_ticket, ticket):
    follow_up = make_ticket(related_to=ticket)
    linked = events(follow_up, Kind.LINKED)
    assert len(linked) == 1 and linked[0].new_value == ticket.reference
    assert ticket in follow_up.related.all()


def test_create_ticket_stores_files_and_records_rejected_ones(cast, make_ticket):
    t = make_ticket(files=[png()], rejected_files=[("virus.exe", "not an allowed type")])
    stored = t.attachments.get(rejected_reason="")
    assert stored.content_type == "image/png" and stored.file.name.endswith(stored.sha256)
    rejected = t.attachments.get(original_name="virus.exe")
    assert rejected.rejected_reason == "not an allowed type" and not rejected.file
    assert len(events(t, Kind.ATTACHMENT_REJECTED)) == 1
    assert t.has_attachments


def test_add_message_writes_message_and_note_rows(cast, ticket):
    reply = actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Отговор", channel="console"
    )
    note = actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Бележка", kind="internal", channel="console"
    )
    assert [e.new_value for e in events(ticket, Kind.MESSAGE)] == [str(reply.pk)]
    assert [e.new_value for e in events(ticket, Kind.NOTE)] == [str(note.pk)]
    ticket.refresh_from_db()
    assert ticket.message_count == 3 and ticket.last_message_id == note.pk


def test_change_status_writes_status_row(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", reason="чакаме")
    (row,) = events(ticket, Kind.STATUS)
    assert (row.field, row.old_value, row.new_value, row.note) == (
        "status",
        "new",
        "waiting",
        "чакаме",
    )
    assert row.actor == cast.expert_x


def test_assign_and_take_write_assigned_rows(cast, ticket):
    actions.assign(ticket=ticket, actor=cast.supervisor_x, assignee=None, reason="обратно")
    actions.take(ticket=ticket, actor=cast.expert_x2)
    rows = events(ticket, Kind.ASSIGNED)
    assert [(r.old_value, r.new_value) for r in rows] == [
        (str(cast.expert_x), ""),
        ("", str(cast.expert_x2)),
    ]
    assert rows[0].actor == cast.supervisor_x and rows[0].note == "обратно"
    assert rows[1].actor == cast.expert_x2
    ticket.refresh_from_db()
    assert ticket.assignee == cast.expert_x2
    assert fresh(cast.expert_x2).agent.last_assigned_at is not None


def test_assign_to_the_same_person_writes_nothing(cast, ticket):
    before = snapshot()
    actions.assign(ticket=ticket, actor=cast.expert_x, assignee=cast.expert_x)
    assert snapshot() == before


def test_escalate_writes_escalated_row(cast, ticket):
    actions.escalate(ticket=ticket, actor=cast.expert_x, tier="central", reason="грешка 500")
    (row,) = events(ticket, Kind.ESCALATED)
    assert (row.old_value, row.new_value, row.note) == ("regional", "central", "грешка 500")
    ticket.refresh_from_db()
    assert ticket.tier == "central" and ticket.assignee is None


def test_change_priority_writes_priority_row_and_moves_due_times(cast, ticket):
    due = ticket.resolution_due
    actions.change_priority(ticket=ticket, actor=cast.expert_x, priority="urgent")
    (row,) = events(ticket, Kind.PRIORITY)
    assert (row.old_value, row.new_value) == ("normal", "urgent")
    ticket.refresh_from_db()
    assert ticket.priority == "urgent" and ticket.resolution_due < due


def test_change_competence_writes_competence_row(cast, ticket):
    login = cast.competences["login"]
    actions.change_competence(ticket=ticket, actor=cast.expert_x, competence=login, reroute=True)
    (row,) = events(ticket, Kind.COMPETENCE)
    assert (row.old_value, row.new_value) == (cast.diplomas.name, login.name)
    assert len(events(ticket, Kind.ROUTED)) == 2
    ticket.refresh_from_db()
    assert ticket.competence == login and ticket.assignee == cast.expert_x2


def test_rate_writes_rated_row(cast, ticket):
    set_status(ticket, Status.RESOLVED, resolved_at=timezone.now())
    actions.rate(ticket=ticket, actor=cast.teacher_a, score=5, comment="Благодаря")
    (row,) = events(ticket, Kind.RATED)
    assert (row.new_value, row.note, row.actor) == ("5", "Благодаря", cast.teacher_a)


def test_close_resolved_writes_system_status_row(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved")
    assert actions.close_resolved(ticket_id=ticket.pk) is True
    row = events(ticket, Kind.STATUS)[-1]
    assert (row.old_value, row.new_value, row.channel, row.actor) == (
        "resolved",
        "closed",
        "system",
        None,
    )
    ticket.refresh_from_db()
    assert ticket.closed_at is not None


def test_close_resolved_leaves_other_tickets_alone(ticket):
    before = snapshot()
    assert actions.close_resolved(ticket_id=ticket.pk) is False
    assert actions.close_resolved(ticket_id=ticket.pk + 1000) is False
    assert snapshot() == before


# --- status transitions -------------------------------------------------------------

PAIRS = [(old, new) for old in Status for new in Status if old != new]


@pytest.mark.parametrize("old, new", PAIRS, ids=[f"{o}->{n}" for o, n in PAIRS])
def test_agent_status_matrix_follows_transitions(cast, ticket, old, new):
    set_status(ticket, old, resolved_at=timezone.now() if old == "resolved" else None)
    if new in TRANSITIONS[old]:
        actions.change_status(ticket=ticket, actor=cast.expert_x, status=new)
        ticket.refresh_from_db()
        assert ticket.status == new
        (row,) = events(ticket, Kind.STATUS)
        assert (row.old_value, row.new_value) == (old, new)
    else:
        refused(
            lambda: actions.change_status(ticket=ticket, actor=cast.expert_x, status=new),
            InvalidTransition,
        )


REQUESTER_MAY = {("new", "resolved"), ("open", "resolved"), ("waiting", "resolved")}
REQUESTER_MAY |= {("resolved", "open")}


@pytest.mark.parametrize("old, new", PAIRS, ids=[f"{o}->{n}" for o, n in PAIRS])
def test_requester_status_matrix(cast, ticket, old, new):
    set_status(ticket, old, resolved_at=timezone.now() if old == "resolved" else None)
    if (old, new) in REQUESTER_MAY:
        actions.change_status(ticket=ticket, actor=cast.teacher_a, status=new, channel="portal")
        ticket.refresh_from_db()
        assert ticket.status == new
        assert events(ticket, Kind.STATUS)[0].actor == cast.teacher_a
    else:
        refused(lambda: actions.change_status(ticket=ticket, actor=cast.teacher_a, status=new))


def test_requester_may_reopen_within_reopen_days_but_not_after(cast, ticket, now):
    days = settings.HELPDESK["REOPEN_DAYS"]
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved", now=now)
    late = now + datetime.timedelta(days=days, minutes=1)
    error = refused(
        lambda: actions.change_status(ticket=ticket, actor=cast.teacher_a, status="open", now=late),
        InvalidTransition,
    )
    assert str(days) in str(error)
    in_time = now + datetime.timedelta(days=days) - datetime.timedelta(minutes=1)
    actions.change_status(ticket=ticket, actor=cast.teacher_a, status="open", now=in_time)
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.resolved_at is None


def test_closing_sets_resolved_and_closed_times(cast, ticket, now):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="closed", now=now)
    ticket.refresh_from_db()
    assert ticket.closed_at == now and ticket.resolved_at == now


# --- bad input writes nothing ----------------------------------------------------------


def long_text():
    return "я" * (settings.HELPDESK["MAX_TEXT_CHARS"] + 1)


CREATE_REFUSALS = {
    "unknown institution code": (
        {"institution": None, "institution_code": "9999999"},
        DomainError,
        "institution",
    ),
    "empty subject": ({"subject": "   "}, DomainError, "subject"),
    "subject over 200": ({"subject": "а" * 201}, DomainError, "subject"),
    "empty text": ({"text": " \n "}, DomainError, "text"),
    "text over the limit": ({"text": None}, DomainError, "text"),
    "unknown channel": ({"channel": "fax"}, DomainError, "channel"),
    "unknown priority": ({"priority": "asap"}, DomainError, "priority"),
    "teacher sets priority": ({"priority": "urgent"}, NotAllowed, "priority"),
    "teacher files for another institution": ({"institution": "school_b"}, NotAllowed, None),
    "outsider files": ({"actor": "outsider"}, NotAllowed, None),
    "anonymous portal request": ({"actor": None}, NotAllowed, None),
    "portal request without institution": ({"institution": None}, DomainError, "institution"),
    "e-mail without sender": (
        {"actor": None, "channel": "email", "requester_email": ""},
        DomainError,
        None,
    ),
    "console request by a teacher": ({"channel": "console"}, NotAllowed, None),
    "priority by e-mail": (
        {"actor": None, "channel": "email", "requester_email": "x@abv.bg", "priority": "high"},
        NotAllowed,
        "priority",
    ),
}


@pytest.mark.parametrize("case", CREATE_REFUSALS)
def test_create_ticket_refuses_bad_input(cast, make_ticket, case):
    kwargs, error, field = CREATE_REFUSALS[case]
    kwargs = dict(kwargs)
    for key in ("actor", "institution"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = getattr(cast, kwargs[key])
    if "text" in kwargs and kwargs["text"] is None:
        kwargs["text"] = long_text()
    raised = refused(lambda: make_ticket(**kwargs), error)
    if field:
        assert raised.field == field


def test_create_ticket_refuses_a_retired_competence(cast, make_ticket):
    cast.diplomas.is_active = False
    cast.diplomas.save()
    assert refused(make_ticket).field == "competence"


def test_priority_refused_once_the_delegation_ended(cast, make_ticket):
    now = timezone.now()
    Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a,
        rights=["file"],
        valid_from=now - datetime.timedelta(days=10),
        valid_until=now - datetime.timedelta(days=1),
    )
    error = refused(lambda: make_ticket(actor=fresh(cast.teacher_a), priority="high"), NotAllowed)
    assert error.field == "priority"


def test_priority_by_a_director_or_a_delegate_with_the_right_to_file(cast, make_ticket):
    now = timezone.now()
    Delegation.objects.create(
        institution=cast.school_a,
        granted_by=cast.director_a,
        delegate=cast.teacher_a,
        rights=["file"],
        valid_from=now - datetime.timedelta(days=1),
        valid_until=now + datetime.timedelta(days=1),
    )
    assert make_ticket(actor=fresh(cast.teacher_a), priority="high").priority == "high"
    assert make_ticket(actor=cast.director_a, priority="urgent").priority == "urgent"
    refused(lambda: make_ticket(actor=cast.teacher_a_colleague, priority="high"), NotAllowed)


def test_a_delegation_from_another_institution_gives_no_right_to_file(cast, make_ticket):
    now = timezone.now()
    Delegation.objects.create(
        institution=cast.school_b,
        granted_by=cast.director_b,
        delegate=cast.teacher_a,
        rights=["file", "follow"],
        valid_from=now - datetime.timedelta(days=1),
        valid_until=now + datetime.timedelta(days=1),
    )
    teacher = fresh(cast.teacher_a)
    refused(lambda: make_ticket(actor=teacher, institution=cast.school_b), NotAllowed)
    refused(
        lambda: make_ticket(actor=teacher, institution=cast.school_b, priority="high"), NotAllowed
    )


def test_create_ticket_by_code_and_trims_subject(cast, make_ticket):
    t = make_ticket(institution=None, institution_code=" 2206409 ", subject="  Две   думи ")
    assert t.institution == cast.school_a and t.subject == "Две думи"


def test_console_ticket_with_priority_and_no_institution(cast, make_ticket):
    t = make_ticket(
        actor=cast.central,
        channel="console",
        institution=None,
        competence=cast.technical,
        priority="urgent",
        requester_email="Caller@Example.com",
    )
    assert t.priority == "urgent" and t.requester is None
    assert t.requester_email == "caller@example.com"


def test_add_message_refuses_bad_input(cast, ticket):
    def call(**kw):
        kw.setdefault("ticket", ticket)
        kw.setdefault("actor", cast.teacher_a)
        kw.setdefault("text", "Здравейте")
        return lambda: actions.add_message(**kw)

    refused(call(text=long_text()))
    refused(call(text="  "))
    refused(call(kind="whisper"))
    refused(call(kind="internal"), NotAllowed)
    refused(call(actor=cast.outsider), NotAllowed)
    refused(call(actor=cast.teacher_b), NotAllowed)
    refused(call(actor=cast.expert_y, channel="console"), NotAllowed)
    refused(call(actor=None, channel="portal"), NotAllowed)
    refused(call(new_status="bogus"))
    # A requester cannot use a reply to set a status staff alone may set.
    refused(call(new_status="closed"), NotAllowed)
    refused(call(new_status="waiting"), NotAllowed)


def test_add_message_on_a_closed_ticket_points_to_a_new_request(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="closed")
    error = refused(
        lambda: actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Още нещо"),
        InvalidTransition,
    )
    assert ticket.reference in str(error)
    with translation.override("en"):
        english = refused(
            lambda: actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Още нещо"),
            InvalidTransition,
        )
    assert "new request" in str(english)


def test_staff_may_still_write_on_a_closed_ticket(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="closed")
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="За сведение", kind="internal", channel="console"
    )
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_change_status_refuses_bad_input(cast, ticket):
    refused(lambda: actions.change_status(ticket=ticket, actor=cast.expert_x, status="done"))
    refused(lambda: actions.change_status(ticket=ticket, actor=None, status="open"), NotAllowed)
    refused(
        lambda: actions.change_status(ticket=ticket, actor=cast.outsider, status="resolved"),
        NotAllowed,
    )
    refused(
        lambda: actions.change_status(ticket=ticket, actor=cast.expert_y, status="open"),
        NotAllowed,
    )
    # A colleague who cannot see the ticket cannot resolve it either.
    refused(
        lambda: actions.change_status(
            ticket=ticket, actor=cast.teacher_a_colleague, status="resolved"
        ),
        NotAllowed,
    )


def test_assign_refuses_bad_input(cast, ticket):
    def call(actor, assignee):
        return lambda: actions.assign(ticket=ticket, actor=actor, assignee=assignee)

    refused(call(cast.teacher_a, cast.expert_x2), NotAllowed)
    refused(call(cast.director_a, cast.expert_x2), NotAllowed)
    refused(call(None, cast.expert_x2), NotAllowed)
    # An agent of another region can neither act on nor receive the ticket.
    refused(call(cast.expert_y, cast.expert_y), NotAllowed)
    assert refused(call(cast.expert_x, cast.expert_y)).field == "assignee"
    # Central support does not take regional tickets by assignment.
    assert refused(call(cast.supervisor_x, cast.central)).field == "assignee"
    assert refused(call(cast.expert_x, cast.teacher_a)).field == "assignee"
    User.objects.filter(pk=cast.expert_x2.pk).update(is_active=False)
    assert refused(call(cast.expert_x, fresh(cast.expert_x2))).field == "assignee"
    set_status(ticket, Status.CLOSED)
    refused(call(cast.expert_x, None), InvalidTransition)


def test_take_refuses_when_someone_was_faster(cast, ticket):
    assert ticket.assignee == cast.expert_x
    refused(lambda: actions.take(ticket=ticket, actor=cast.expert_x2), Conflict)
    refused(lambda: actions.take(ticket=ticket, actor=cast.teacher_a), NotAllowed)


def test_escalate_refuses_bad_input(cast, ticket, make_ticket):
    def call(**kw):
        kw.setdefault("ticket", ticket)
        kw.setdefault("actor", cast.expert_x)
        kw.setdefault("tier", "central")
        kw.setdefault("reason", "грешка")
        return lambda: actions.escalate(**kw)

    refused(call(actor=cast.teacher_a), NotAllowed)
    refused(call(actor=cast.expert_y), NotAllowed)
    refused(call(tier="national"))
    assert refused(call(reason="  ")).field == "reason"
    refused(call(tier="regional"), InvalidTransition)
    triage = make_ticket(
        actor=None,
        channel="email",
        institution=None,
        competence=cast.technical,
        requester_email="x@abv.bg",
    )
    refused(call(ticket=triage, actor=cast.central, tier="regional"))


def test_change_priority_refuses_bad_input(cast, ticket):
    def call(actor, priority="high"):
        return lambda: actions.change_priority(ticket=ticket, actor=actor, priority=priority)

    refused(call(cast.teacher_a), NotAllowed)
    refused(call(cast.expert_y), NotAllowed)
    refused(call(None), NotAllowed)
    assert refused(call(cast.expert_x, "asap")).field == "priority"


def test_change_competence_refuses_bad_input(cast, ticket):
    def call(actor, competence):
        return lambda: actions.change_competence(ticket=ticket, actor=actor, competence=competence)

    refused(call(cast.teacher_a, cast.technical), NotAllowed)
    refused(call(cast.expert_y, cast.technical), NotAllowed)
    assert refused(call(cast.expert_x, None)).field == "competence"
    assert refused(call(cast.expert_x, "login")).field == "competence"
    retired = cast.competences["ediary"]
    retired.is_active = False
    retired.save()
    assert refused(call(cast.expert_x, retired)).field == "competence"


def test_rate_refuses_bad_input(cast, ticket):
    def call(actor=cast.teacher_a, score=4, comment=""):
        return lambda: actions.rate(ticket=ticket, actor=actor, score=score, comment=comment)

    refused(call(), InvalidTransition)  # not resolved yet
    set_status(ticket, Status.RESOLVED, resolved_at=timezone.now())
    refused(call(actor=cast.director_a), NotAllowed)
    refused(call(actor=cast.expert_x), NotAllowed)
    refused(call(actor=cast.outsider), NotAllowed)
    refused(call(actor=None), NotAllowed)
    for score in (0, 6, "5", 4.5, None, True):
        assert refused(call(score=score)).field == "score"
    assert refused(call(comment="д" * 2001)).field == "comment"


# --- side effects after commit only ------------------------------------------------------


def test_mail_is_sent_only_when_the_transaction_commits(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        ticket = make_ticket()
        assert mail.outbox == []
    assert callbacks, "mail and live updates wait for the commit"
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [[cast.teacher_a.email]]
    assert ticket.reference in mail.outbox[0].subject


def test_nothing_is_sent_when_the_transaction_rolls_back(
    cast, make_ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                ticket = make_ticket()
                actions.add_message(
                    ticket=ticket, actor=cast.expert_x, text="Отговор", channel="console"
                )
                raise RuntimeError("the caller fails after the services ran")
    assert callbacks == []
    assert mail.outbox == []
    assert not Ticket.objects.exists()


def test_a_refused_call_schedules_nothing(cast, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(DomainError):
            actions.add_message(ticket=ticket, actor=cast.teacher_a, text=long_text())
    assert callbacks == [] and mail.outbox == []


def test_staff_reply_mails_the_requester_and_requester_reply_mails_the_agent(
    cast, ticket, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_message(ticket=ticket, actor=cast.expert_x, text="Отговор", channel="console")
    assert [m.to for m in mail.outbox] == [[cast.teacher_a.email]]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Благодаря")
    assert [m.to for m in mail.outbox] == [[cast.expert_x.email]]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_message(
            ticket=ticket, actor=cast.expert_x, text="бележка", kind="internal", channel="console"
        )
    assert mail.outbox == [], "internal notes are never mailed"


# --- references ------------------------------------------------------------------------

REFERENCE = re.compile(r"^\d{2}-\d{6}$")


def test_references_are_yy_nnnnnn_unique_and_consecutive(cast, make_ticket, now):
    tickets = [make_ticket(route=False, notify=False, now=now) for _ in range(40)]
    refs = [t.reference for t in tickets]
    assert all(REFERENCE.match(r) for r in refs), refs[:3]
    assert len(set(refs)) == len(refs)
    yy = f"{timezone.localtime(now).year % 100:02d}"
    numbers = [int(r.split("-")[1]) for r in refs]
    assert all(r.startswith(yy + "-") for r in refs)
    assert numbers == list(range(numbers[0], numbers[0] + 40))
    assert set(Ticket.objects.values_list("reference", flat=True)) == set(refs)


def test_references_restart_each_year(cast, make_ticket):
    sofia = timezone.get_default_timezone()
    new_year = datetime.datetime(2031, 1, 1, 0, 30, tzinfo=sofia)  # still 2030 in UTC
    assert make_ticket(now=new_year - datetime.timedelta(hours=1)).reference == "30-000001"
    assert make_ticket(now=new_year).reference == "31-000001"
    assert make_ticket(now=new_year).reference == "31-000002"


def test_a_refused_create_does_not_use_up_a_number(cast, make_ticket):
    first = make_ticket()
    refused(lambda: make_ticket(subject=""))
    refused(lambda: make_ticket(institution=cast.school_b), NotAllowed)
    second = make_ticket()
    assert int(second.reference[3:]) == int(first.reference[3:]) + 1


# --- conversation rules --------------------------------------------------------------------


def test_requester_reply_reopens_within_the_window(cast, ticket, now):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved", now=now)
    later = now + datetime.timedelta(days=settings.HELPDESK["REOPEN_DAYS"] - 1)
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Пак не става", now=later)
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.resolved_at is None
    row = events(ticket, Kind.STATUS)[-1]
    assert (row.old_value, row.new_value, row.actor) == ("resolved", "open", cast.teacher_a)


def test_requester_reply_after_the_window_does_not_reopen(cast, ticket, now):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="resolved", now=now)
    later = now + datetime.timedelta(days=settings.HELPDESK["REOPEN_DAYS"] + 1)
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Пак не става", now=later)
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_requester_reply_to_waiting_reopens(cast, ticket):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting")
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето снимката")
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_first_response_is_the_first_public_staff_reply(cast, ticket, now):
    step = datetime.timedelta(minutes=10)
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Допълнение", now=now + step)
    actions.add_message(
        ticket=ticket,
        actor=cast.expert_x,
        text="бележка",
        kind="internal",
        channel="console",
        now=now + 2 * step,
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and ticket.status == "new"
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Отговор", channel="console", now=now + 3 * step
    )
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Още", channel="console", now=now + 4 * step
    )
    ticket.refresh_from_db()
    assert ticket.first_response_at == now + 3 * step
    assert ticket.status == "open"
    assert Message.objects.get(pk=ticket.last_message_id).from_staff


def test_staff_reply_can_set_a_status_in_one_step(cast, ticket):
    actions.add_message(
        ticket=ticket, actor=cast.expert_x, text="Решено", channel="console", new_status="resolved"
    )
    ticket.refresh_from_db()
    assert ticket.status == "resolved" and ticket.first_response_at is not None
    assert [e.new_value for e in events(ticket, Kind.STATUS)] == ["resolved"]


def test_requester_reply_may_mark_resolved(cast, ticket):
    actions.add_message(
        ticket=ticket, actor=cast.teacher_a, text="Оправи се", new_status="resolved"
    )
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_waiting_pauses_and_resumes_the_resolution_clock(cast, ticket, now):
    actions.change_status(ticket=ticket, actor=cast.expert_x, status="waiting", now=now)
    ticket.refresh_from_db()
    assert ticket.resolution_due is None and ticket.sla_paused_at == now
    actions.add_message(ticket=ticket, actor=cast.teacher_a, text="Ето", now=now)
    ticket.refresh_from_db()
    assert ticket.resolution_due is not None and ticket.sla_paused_at is None
