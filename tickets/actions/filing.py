"""Filing a request: one function per door, over one shared core.

Each door has its own rule for who may file and what they may set (portal
and API: staff of the institution, priority by role; mail: anyone, never a
priority; console: an agent, on someone's behalf). Whatever the door, the
ticket is routed, its SLA set and the row inserted once, complete, with its
first message, history and acknowledgement, in one transaction.
"""

import datetime
import functools
from collections.abc import Iterable

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Institution, User
from accounts.permissions import can_set_priority, filing_institution_ids, is_agent
from helpdesk.cache import reading_ahead
from helpdesk.errors import DomainError, NotAllowed
from helpdesk.uploads import CheckedFile
from tickets import events, fields, notifications, outbox, search_sync, similarity, surges
from tickets.actions.base import (
    acting,
    announce,
    atomic_action,
    clean_subject,
    clean_text,
    require_agent,
    sanitised_html,
    store_files,
)
from tickets.assignment import route_new_ticket
from tickets.models import (
    Channel,
    Competence,
    MailThreadKey,
    Message,
    Priority,
    RedactedOriginal,
    ReferenceCounter,
    Ticket,
    TicketEvent,
    TicketFieldValue,
    Tier,
)
from tickets.redaction import Redactor
from tickets.sla import apply_sla


def next_reference(now: datetime.datetime, *, reserve_message_id: bool = False):
    """Issue the next reference of the year (YY-NNNNNN): gap-free, never twice.

    One statement takes the year's row lock, counts on and reads the number
    (UPDATE … RETURNING, on PostgreSQL and SQLite alike); the lock is held to
    the end of the filing's transaction, so a rolled-back filing gives its
    number back.

    With `reserve_message_id` (PostgreSQL only) the same statement also draws
    the id the first message will have from its sequence, so the ticket row
    is inserted already pointing at it (the foreign key is checked at the
    commit) instead of being updated after the message: the result is then
    (reference, message id).
    """
    year = timezone.localtime(now).year % 100
    table, last, key = map(
        connection.ops.quote_name, (ReferenceCounter._meta.db_table, "last", "year")
    )
    returning = last
    if reserve_message_id:
        returning += ", nextval(pg_get_serial_sequence(%s, %s))"
        params = [year, Message._meta.db_table, Message._meta.pk.column]
    else:
        params = [year]
    sql = f"UPDATE {table} SET {last} = {last} + 1 WHERE {key} = %s RETURNING {returning}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:  # the year's first request: make its row without racing another
            ReferenceCounter.objects.bulk_create(
                [ReferenceCounter(year=year)], ignore_conflicts=True
            )
            cursor.execute(sql, params)
            row = cursor.fetchone()
    reference = f"{year:02d}-{row[0]:06d}"
    return (reference, row[1]) if reserve_message_id else reference


def institution_by_code(code: str) -> Institution:
    institution = Institution.objects.filter(code=(code or "").strip()).first()
    if institution is None:
        raise DomainError(
            _("There is no institution with code %(code)s.") % {"code": code},
            field="institution",
        )
    return institution


def _check_priority(priority: str | None, *, allowed) -> str:
    """Return the priority to file with; `allowed()` says whether the filer may choose one."""
    if priority is None:
        return Priority.NORMAL
    if priority not in Priority.values:
        raise DomainError(_("Unknown priority."), field="priority")
    if priority != Priority.NORMAL and not allowed():
        raise NotAllowed(_("Your role may not set the priority."), field="priority")
    return priority


def _check_staff_filing(actor, institution, institution_code):
    """The portal's and the API's rule: a logged-in person files for their institution."""
    user = acting(actor)
    if user is None:
        raise NotAllowed(_("You must be logged in to file a request."))
    if institution is None and institution_code:
        institution = institution_by_code(institution_code)
    if institution is None:
        raise DomainError(_("Choose the institution."), field="institution")
    if not is_agent(user) and institution.pk not in filing_institution_ids(user):
        raise NotAllowed(_("You may not file requests for this institution."))
    return user, institution


def _file_as_staff(channel, *, actor, institution=None, institution_code=None, priority=None, **kw):
    user, institution = _check_staff_filing(actor, institution, institution_code)
    priority = _check_priority(priority, allowed=lambda: can_set_priority(user, institution.pk))
    kw.setdefault("require_fields", True)  # the filer answers the competence's questions
    return file_request(
        channel=channel,
        actor=user,
        requester=user,
        institution=institution,
        priority=priority,
        **kw,
    )


def file_from_portal(**kwargs) -> Ticket:
    """File a request from the portal's form (institution staff, for their institution)."""
    return _file_as_staff(Channel.PORTAL, **kwargs)


def file_from_api(**kwargs) -> Ticket:
    """File a request through the REST API (the same rules as the portal)."""
    return _file_as_staff(Channel.API, **kwargs)


def file_from_mail(
    *,
    sender,
    requester_email: str = "",
    priority: str | None = None,
    institution_code: str | None = None,
    institution: Institution | None = None,
    **kwargs,
) -> Ticket:
    """File a request from an e-mail: `sender` is the known person or None, never a priority."""
    user = acting(sender)
    if user is None and not requester_email:
        raise DomainError(_("An e-mail request needs a sender address."))
    if institution is None and institution_code:
        institution = institution_by_code(institution_code)
    priority = _check_priority(priority, allowed=lambda: False)
    return file_request(
        channel=Channel.EMAIL,
        actor=user,
        requester=user,
        requester_email=requester_email,
        institution=institution,
        priority=priority,
        **kwargs,
    )


# The channels an agent files by: a call, a visit, or the console generally (a letter).
ON_BEHALF_CHANNELS = (Channel.PHONE, Channel.IN_PERSON, Channel.CONSOLE)


def file_for_requester(
    *,
    actor,
    institution: Institution | None = None,
    institution_code: str | None = None,
    priority: str | None = None,
    channel: str = Channel.CONSOLE,
    requester=None,
    **kwargs,
) -> Ticket:
    """An agent files a request on someone's behalf (a call, a visit, a letter).

    `requester` is the person with an account who asked (then they see the
    request in the portal and get its mail); without one, the door passes
    the name and address the caller gave (`requester_name`,
    `requester_email`). A person filed for must belong to the institution.
    """
    require_agent(actor)
    if channel not in ON_BEHALF_CHANNELS:
        raise DomainError(_("Unknown channel."), field="channel")
    if institution is None and institution_code:
        institution = institution_by_code(institution_code)
    if requester is not None:
        if not requester.is_active:
            raise DomainError(_("This account has been deactivated."), field="requester")
        if is_agent(requester):
            raise DomainError(
                _("Support staff cannot be the requester of a request."), field="requester"
            )
        if institution is not None and institution.pk not in filing_institution_ids(requester):
            raise DomainError(
                _("This person does not work at the chosen institution."), field="requester"
            )
    priority = _check_priority(priority, allowed=lambda: True)
    return file_request(
        channel=channel,
        actor=actor,
        requester=requester,
        institution=institution,
        priority=priority,
        **kwargs,
    )


FILERS = {
    Channel.PORTAL: file_from_portal,
    Channel.API: file_from_api,
    Channel.CONSOLE: file_for_requester,
    Channel.PHONE: file_for_requester,
    Channel.IN_PERSON: file_for_requester,
}


def create_ticket(*, channel: str = Channel.PORTAL, actor=None, **kwargs) -> Ticket:
    """File a request through the door named by `channel` (scripts, the demo seed, tests)."""
    if channel == Channel.EMAIL:
        return file_from_mail(sender=actor, **kwargs)
    if channel not in FILERS:
        raise DomainError(_("Unknown channel."), field="channel")
    if FILERS[channel] is file_for_requester:
        return file_for_requester(actor=actor, channel=channel, **kwargs)
    return FILERS[channel](actor=actor, **kwargs)


def _flags_read_ahead(func):
    """The cached flags filing's steps ask for (webhooks, surges) in one round trip."""

    @functools.wraps(func)
    def inner(*args, **kwargs):
        with reading_ahead(cache, "filing"):
            return func(*args, **kwargs)

    return inner


@_flags_read_ahead
@atomic_action
def file_request(
    *,
    channel: str,
    actor,
    requester,
    subject: str,
    text: str,
    institution: Institution | None,
    priority: str,
    competence: Competence | None = None,
    files: Iterable[CheckedFile] = (),
    rejected_files: Iterable[tuple[str, str]] = (),
    requester_email: str = "",
    requester_name: str = "",
    html: str = "",
    html_is_clean: bool = False,
    quoted_text: str = "",
    email_message_id: str = "",
    institution_verified: bool = True,
    related_to: Ticket | None = None,
    region=None,
    is_auto_reply: bool = False,
    route: bool = True,
    notify: bool = True,
    field_values=None,
    require_fields: bool = False,
    mail_notes: Iterable[str] = (),
    now: datetime.datetime | None = None,
) -> Ticket:
    """The shared core of filing: the door has checked who files and what they may set.

    Validates the text, routes the request and sets its SLA before the first
    write, so the ticket row is inserted once, complete; then the first
    message, files, history and the acknowledgement.

    `field_values` ({key: text}) answers the fields of `competence`
    (tickets/fields.py); with `require_fields` a required one left empty is
    refused. `mail_notes` are things about the e-mail the agent should know
    (why no acknowledgement went out), written with the request's history.
    """
    now = now or timezone.now()
    # Personal numbers (ЕГН) are masked before anything is stored (tickets/redaction.py).
    redact = Redactor()
    subject = redact(RedactedOriginal.Field.SUBJECT, clean_subject(subject))
    files = list(files)
    rejected_files = list(rejected_files)
    text = clean_text(text, allow_empty=bool(files) or channel == Channel.EMAIL)
    text = redact(RedactedOriginal.Field.BODY_TEXT, text)
    if competence is not None and not competence.is_active:
        raise DomainError(_("This competence area is no longer in use."), field="competence")
    answers = (
        fields.clean_values(competence, field_values, enforce_required=require_fields)
        if field_values or require_fields
        else {}
    )
    acting_user = acting(actor)
    ticket = Ticket(
        institution=institution,
        institution_verified=institution_verified,
        requester=requester,
        requester_email=(requester_email or (requester.email if requester else "")).lower(),
        requester_name=requester_name or (requester.get_full_name() if requester else ""),
        channel=channel,
        subject=subject,
        competence=competence,
        region=institution.region if institution else region,
        tier=competence.tier if competence else Tier.REGIONAL,
        priority=priority,
        created_at=now,
        updated_at=now,
        has_attachments=bool(files),
        message_count=1,
    )
    routed = route_new_ticket(ticket, channel=channel, now=now, text=text) if route else None
    apply_sla(ticket, now=now)
    # The number last: its row lock serialises every filing until the commit,
    # so routing and the SLA (which need no number) run before it, in parallel.
    message_id = None
    if connection.vendor == "postgresql":
        ticket.reference, message_id = next_reference(now, reserve_message_id=True)
        ticket.last_message_id = message_id
    else:
        ticket.reference = next_reference(now)
    # Its search document is written with the first message, once (search_sync).
    ticket.__dict__[search_sync.FIRST_MESSAGE_PENDING] = True
    ticket.save(force_insert=True)
    message = Message.objects.create(
        id=message_id,
        ticket=ticket,
        kind=Message.Kind.PUBLIC,
        author=requester,
        sender_email=ticket.requester_email,
        sender_name=ticket.requester_name,
        channel=channel,
        body_text=text,
        body_html=redact(
            RedactedOriginal.Field.BODY_HTML, sanitised_html(html, is_clean=html_is_clean)
        )
        if html
        else "",
        quoted_text=redact(RedactedOriginal.Field.QUOTED_TEXT, quoted_text),
        email_message_id=email_message_id,
        is_auto_reply=is_auto_reply,
        created_at=now,
    )
    if email_message_id:
        MailThreadKey.remember(ticket, message, email_message_id, MailThreadKey.Direction.IN)
    store_files(ticket, message, files, acting_user, rejected_files, channel, now, redact)
    redact.keep(ticket, message)
    # How many personal numbers were hidden, for the door to tell the person.
    ticket.egn_masked = redact.count
    if message_id is None:
        Ticket.objects.filter(pk=ticket.pk).update(last_message_id=message.pk)
        ticket.last_message_id = message.pk
    history = [events.created(ticket, actor=acting_user, channel=channel, at=now, save=False)]
    if routed is not None:
        routed.ticket = ticket
        history.append(routed)
    if related_to is not None:
        ticket.related.add(related_to)
        history.append(
            events.linked_on_filing(ticket, earlier=related_to, channel=channel, at=now, save=False)
        )
    history.extend(
        events.mail_note(ticket, note=note, at=now, save=False) for note in mail_notes if note
    )
    TicketEvent.objects.bulk_create(history)
    if answers:
        TicketFieldValue.objects.bulk_create(fields.value_rows(ticket, answers))
    # The signature for "similar requests"; a request matching a surge that
    # became an incident joins it now, before its acknowledgement is written.
    signature = similarity.index(ticket, text, new=True)
    if related_to is None:
        surges.link_on_arrival(ticket, signature, channel=channel, at=now)
    if notify and not is_auto_reply:
        outbox.notify("created", ticket, message)
    if ticket.assignee_id:
        # Routing chose an expert: they hear of it as they chose (tickets/notifications.py).
        # Routing read the expert with their notification choices; otherwise one query.
        if Ticket.assignee.is_cached(ticket):
            assignee = ticket.assignee
        else:
            assignee = User.objects.select_related("agent_settings").get(pk=ticket.assignee_id)
        notifications.tell(
            "assigned", recipient=assignee, ticket=ticket, actor=acting_user, now=now
        )
    # The live update is built from this instance after the commit: nothing
    # else changes the new ticket in this transaction, and it saves a read.
    announce(ticket.pk, "created", ticket=ticket)
    return ticket
