"""Every write to a ticket goes through a function in this module.

Each service runs in one transaction, locks the ticket row it changes, writes
TicketEvent rows for what a person would later ask about, and schedules side
effects (mail, live updates) with transaction.on_commit. Callers pass keyword
arguments; bad input raises a DomainError and writes nothing.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Institution
from accounts.permissions import can_set_priority, filing_institution_ids
from helpdesk.sanitize import clean_html
from tickets.errors import Conflict, DomainError, InvalidTransition, NotAllowed
from tickets.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    Attachment,
    Channel,
    Competence,
    MailThreadKey,
    Message,
    Priority,
    ReferenceCounter,
    Status,
    Ticket,
    TicketEvent,
    Tier,
)
from tickets.uploads import CheckedFile

SUBJECT_MAX = 200


# --- helpers -------------------------------------------------------------------


def is_agent(user) -> bool:
    return user is not None and user.is_authenticated and (user.is_superuser or user.is_agent)


def _require_visible(ticket: Ticket, actor) -> None:
    if not Ticket.objects.visible_to(actor).filter(pk=ticket.pk).exists():
        raise NotAllowed(_("You may not act on this request."))


def _require_agent(actor) -> None:
    if not is_agent(actor):
        raise NotAllowed(_("Only support staff may do this."))


def _lock(ticket: Ticket) -> Ticket:
    """Return a fresh copy of the ticket, locked for the rest of the transaction."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _event(ticket, *, actor, channel, kind, field="", old="", new="", note="", at=None):
    return TicketEvent.objects.create(
        ticket=ticket,
        actor=actor if actor is not None and actor.is_authenticated else None,
        channel=channel,
        kind=kind,
        field=field,
        old_value=str(old or "")[:255],
        new_value=str(new or "")[:255],
        note=note,
        created_at=at or timezone.now(),
    )


def _clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise DomainError(_("The subject cannot be empty."), field="subject")
    if len(subject) > SUBJECT_MAX:
        raise DomainError(
            _("The subject is longer than %(n)s characters.") % {"n": SUBJECT_MAX},
            field="subject",
        )
    return subject


def _clean_text(text: str, *, allow_empty: bool = False) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    limit = settings.HELPDESK["MAX_TEXT_CHARS"]
    if not text and not allow_empty:
        raise DomainError(_("The text cannot be empty."), field="text")
    if len(text) > limit:
        raise DomainError(
            _("The text is longer than %(n)s characters.") % {"n": limit}, field="text"
        )
    return text


def _next_reference(now: datetime.datetime) -> str:
    year = timezone.localtime(now).year % 100
    # Make sure the year's row exists without racing another creator, then
    # take its lock: numbers are gap-free and never issued twice.
    counter = ReferenceCounter.objects.select_for_update().filter(year=year).first()
    if counter is None:
        ReferenceCounter.objects.bulk_create([ReferenceCounter(year=year)], ignore_conflicts=True)
        counter = ReferenceCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{year:02d}-{counter.last:06d}"


def _store_files(ticket, message, files: Iterable[CheckedFile], actor, rejected, channel):
    stored = 0
    for checked in files:
        attachment = Attachment(
            ticket=ticket,
            message=message,
            original_name=checked.name,
            size=checked.size,
            content_type=checked.content_type,
            sha256=checked.sha256,
            content_id=getattr(checked, "content_id", "") or "",
            inline=getattr(checked, "inline", False),
            uploaded_by=actor if actor is not None and actor.is_authenticated else None,
        )
        attachment.file.save(checked.sha256, ContentFile(checked.content), save=False)
        attachment.save()
        stored += 1
    for name, reason in rejected:
        Attachment.objects.create(
            ticket=ticket, message=message, original_name=name[:255], rejected_reason=reason[:255]
        )
        _event(
            ticket,
            actor=None,
            channel=channel,
            kind=TicketEvent.Kind.ATTACHMENT_REJECTED,
            new=name,
            note=_("File %(name)s removed: %(reason)s") % {"name": name, "reason": reason},
        )
    return stored


def _after_commit(ticket_id: int, change: str, **extra) -> None:
    from tickets import live

    transaction.on_commit(lambda: live.publish_ticket_change(ticket_id, change, **extra))


def _notify(
    kind: str, ticket_id: int, message_id: int | None = None, *, ticket=None, message=None
) -> None:
    from tickets import tasks
    from tickets.notifications import prepare_records

    # The outgoing mail is recorded in the same transaction as the change, so
    # a crash between the commit and the hand-over to celery loses nothing:
    # mailbridge's sweep (notifications.resend_pending) sends what is pending.
    prepare_records(kind, ticket_id, message_id, ticket=ticket, message=message)
    transaction.on_commit(
        lambda: tasks.send_ticket_mail.delay(kind, ticket_id, message_id), robust=True
    )


# --- creating ------------------------------------------------------------------


@transaction.atomic
def create_ticket(
    *,
    actor,
    subject: str,
    text: str,
    channel: str = Channel.PORTAL,
    institution: Institution | None = None,
    institution_code: str | None = None,
    competence: Competence | None = None,
    priority: str | None = None,
    files: Iterable[CheckedFile] = (),
    rejected_files: Iterable[tuple[str, str]] = (),
    requester_email: str = "",
    requester_name: str = "",
    html: str = "",
    quoted_text: str = "",
    email_message_id: str = "",
    cc: Iterable[str] = (),
    institution_verified: bool = True,
    related_to: Ticket | None = None,
    is_auto_reply: bool = False,
    route: bool = True,
    notify: bool = True,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Create a ticket with its first message, route it, and return it.

    Portal and API requests name an institution the actor may file for; an
    e-mail may come from an unknown sender (actor None) with only an address.
    """
    now = now or timezone.now()
    subject = _clean_subject(subject)
    files = list(files)
    rejected_files = list(rejected_files)
    text = _clean_text(text, allow_empty=bool(files) or channel == Channel.EMAIL)
    if channel not in Channel.values:
        raise DomainError(_("Unknown channel."), field="channel")
    if institution is None and institution_code:
        institution = Institution.objects.filter(code=institution_code.strip()).first()
        if institution is None:
            raise DomainError(
                _("There is no institution with code %(code)s.") % {"code": institution_code},
                field="institution",
            )
    acting_user = actor if actor is not None and actor.is_authenticated else None
    if channel in (Channel.PORTAL, Channel.API):
        if acting_user is None:
            raise NotAllowed(_("You must be logged in to file a request."))
        if institution is None:
            raise DomainError(_("Choose the institution."), field="institution")
        if not is_agent(acting_user) and institution.pk not in filing_institution_ids(acting_user):
            raise NotAllowed(_("You may not file requests for this institution."))
    elif channel == Channel.EMAIL:
        if acting_user is None and not requester_email:
            raise DomainError(_("An e-mail request needs a sender address."))
    elif channel == Channel.CONSOLE:
        _require_agent(acting_user)
    if priority is None:
        priority = Priority.NORMAL
    elif priority not in Priority.values:
        raise DomainError(_("Unknown priority."), field="priority")
    elif priority != Priority.NORMAL and (
        acting_user is None
        or (
            channel != Channel.EMAIL
            and not can_set_priority(acting_user, institution.pk if institution else None)
        )
        or channel == Channel.EMAIL
    ):
        raise NotAllowed(_("Your role may not set the priority."), field="priority")
    if competence is not None and not competence.is_active:
        raise DomainError(_("This competence area is no longer in use."), field="competence")

    requester = acting_user if channel != Channel.CONSOLE else None
    ticket = Ticket(
        reference=_next_reference(now),
        institution=institution,
        institution_verified=institution_verified,
        requester=requester,
        requester_email=(requester_email or (requester.email if requester else "")).lower(),
        requester_name=requester_name or (requester.get_full_name() if requester else ""),
        cc_emails=sorted({c.lower() for c in cc}),
        channel=channel,
        subject=subject,
        competence=competence,
        region=institution.region if institution else None,
        tier=competence.tier if competence else Tier.REGIONAL,
        priority=priority,
        created_at=now,
        updated_at=now,
        has_attachments=bool(files),
        message_count=1,
    )
    # Route and set the SLA before the first write, so the ticket row is
    # inserted once, complete.
    routed = None
    if route:
        from tickets.assignment import route_new_ticket

        routed = route_new_ticket(ticket, channel=channel, now=now, text=text)
    from tickets.sla import apply_sla

    apply_sla(ticket, now=now)
    ticket.save(force_insert=True)
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.PUBLIC,
        author=requester,
        sender_email=ticket.requester_email,
        sender_name=ticket.requester_name,
        channel=channel,
        body_text=text,
        body_html=clean_html(html) if html else "",
        quoted_text=quoted_text,
        email_message_id=email_message_id,
        is_auto_reply=is_auto_reply,
        created_at=now,
    )
    if email_message_id:
        _remember_message_id(ticket, message, email_message_id, MailThreadKey.Direction.IN)
    _store_files(ticket, message, files, acting_user, rejected_files, channel)
    Ticket.objects.filter(pk=ticket.pk).update(last_message_id=message.pk)
    ticket.last_message_id = message.pk
    events = [
        TicketEvent(
            ticket=ticket,
            actor=acting_user,
            channel=channel,
            kind=TicketEvent.Kind.CREATED,
            new_value=ticket.reference,
            note=_("Filed through %(channel)s") % {"channel": Channel(channel).label},
            created_at=now,
        )
    ]
    if routed is not None:
        routed.ticket = ticket
        events.append(routed)
    if related_to is not None:
        ticket.related.add(related_to)
        events.append(
            TicketEvent(
                ticket=ticket,
                channel=channel,
                kind=TicketEvent.Kind.LINKED,
                new_value=related_to.reference,
                note=_("Linked to earlier request %(ref)s") % {"ref": related_to.reference},
                created_at=now,
            )
        )
    TicketEvent.objects.bulk_create(events)
    if notify and not is_auto_reply:
        _notify("created", ticket.pk, message.pk, ticket=ticket, message=message)
    _after_commit(ticket.pk, "created")
    return ticket


def _remember_message_id(ticket, message, message_id, direction, recipient=""):
    try:
        with transaction.atomic():
            MailThreadKey.objects.create(
                mail_id=message_id[:255],
                ticket=ticket,
                message=message,
                direction=direction,
                recipient=recipient,
            )
    except IntegrityError:
        # The same Message-ID already threads to a ticket; keep the first.
        pass


# --- conversation ---------------------------------------------------------------


@transaction.atomic
def add_message(
    *,
    ticket: Ticket,
    actor,
    text: str,
    kind: str = Message.Kind.PUBLIC,
    channel: str = Channel.PORTAL,
    files: Iterable[CheckedFile] = (),
    rejected_files: Iterable[tuple[str, str]] = (),
    html: str = "",
    quoted_text: str = "",
    sender_email: str = "",
    sender_name: str = "",
    email_message_id: str = "",
    is_auto_reply: bool = False,
    new_status: str | None = None,
    notify: bool = True,
    now: datetime.datetime | None = None,
) -> Message:
    """Add a reply or an internal note; return the new message.

    A requester's reply reopens a ticket that waits on them; a staff reply
    counts as the first response. E-mail callers (mailbridge) decide whether a
    sender may write to the ticket before calling this.
    """
    now = now or timezone.now()
    files = list(files)
    rejected_files = list(rejected_files)
    text = _clean_text(text, allow_empty=bool(files) or bool(rejected_files) or is_auto_reply)
    if kind not in Message.Kind.values:
        raise DomainError(_("Unknown message kind."))
    if new_status and new_status not in Status.values:
        raise DomainError(_("Unknown status."), field="status")
    acting_user = actor if actor is not None and actor.is_authenticated else None
    if channel != Channel.EMAIL or acting_user is not None:
        if acting_user is None:
            raise NotAllowed(_("You must be logged in."))
        _require_visible(ticket, acting_user)
    staff = is_agent(acting_user)
    if kind == Message.Kind.INTERNAL and not staff:
        raise NotAllowed(_("Only support staff may write internal notes."))
    ticket = _lock(ticket)
    if ticket.merged_into_id:
        raise DomainError(_("This request was merged into another one."))
    if ticket.status == Status.CLOSED and not staff:
        raise InvalidTransition(
            _("This request is closed. Please file a new request and mention %(ref)s.")
            % {"ref": ticket.reference}
        )
    if new_status and new_status != ticket.status and not staff:
        # A reply must not let a requester set what change_status refuses them.
        _check_requester_status(ticket, new_status, now)
    message = Message.objects.create(
        ticket=ticket,
        kind=kind,
        author=acting_user,
        sender_email=(sender_email or (acting_user.email if acting_user else "")).lower(),
        sender_name=sender_name or (acting_user.get_full_name() if acting_user else ""),
        channel=channel,
        body_text=text,
        body_html=clean_html(html) if html else "",
        quoted_text=quoted_text,
        email_message_id=email_message_id,
        is_auto_reply=is_auto_reply,
        from_staff=staff,
        created_at=now,
    )
    if email_message_id:
        _remember_message_id(ticket, message, email_message_id, MailThreadKey.Direction.IN)
    stored = _store_files(ticket, message, files, acting_user, rejected_files, channel)
    update = {
        "message_count": F("message_count") + 1,
        "last_message_id": message.pk,
        "updated_at": now,
    }
    if stored:
        update["has_attachments"] = True
    _event(
        ticket,
        actor=acting_user,
        channel=channel,
        kind=TicketEvent.Kind.NOTE if kind == Message.Kind.INTERNAL else TicketEvent.Kind.MESSAGE,
        new=str(message.pk),
        at=now,
    )
    public = kind == Message.Kind.PUBLIC
    if public and staff and ticket.first_response_at is None:
        update["first_response_at"] = now
    Ticket.objects.filter(pk=ticket.pk).update(**update)
    ticket.refresh_from_db()

    if new_status and new_status != ticket.status:
        _change_status_locked(
            ticket, actor=acting_user, status=new_status, channel=channel, now=now, notify=notify
        )
    elif public and not is_auto_reply:
        if staff and ticket.status == Status.NEW:
            _change_status_locked(
                ticket, actor=acting_user, status=Status.OPEN, channel=channel, now=now
            )
        elif not staff and ticket.status == Status.WAITING:
            _change_status_locked(
                ticket,
                actor=acting_user,
                status=Status.OPEN,
                channel=channel,
                now=now,
                note=_("The requester answered."),
            )
        elif not staff and ticket.status == Status.RESOLVED:
            if _within_reopen_period(ticket, now):
                _change_status_locked(
                    ticket,
                    actor=acting_user,
                    status=Status.OPEN,
                    channel=channel,
                    now=now,
                    note=_("Reopened by the requester's reply."),
                )
    if notify and public and not is_auto_reply:
        if staff:
            _notify("reply", ticket.pk, message.pk)
        elif ticket.assignee_id:
            _notify("requester_replied", ticket.pk, message.pk)
    _after_commit(ticket.pk, "message", message_id=message.pk)
    return message


def _within_reopen_period(ticket: Ticket, now) -> bool:
    if ticket.resolved_at is None:
        return True
    days = settings.HELPDESK["REOPEN_DAYS"]
    return now - ticket.resolved_at <= datetime.timedelta(days=days)


# --- status ---------------------------------------------------------------------


@transaction.atomic
def change_status(
    *,
    ticket: Ticket,
    actor,
    status: str,
    channel: str = Channel.CONSOLE,
    reason: str = "",
    notify: bool = True,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Move the ticket to `status` if the transition and the actor allow it."""
    now = now or timezone.now()
    if status not in Status.values:
        raise DomainError(_("Unknown status."), field="status")
    if actor is None or not actor.is_authenticated:
        raise NotAllowed(_("You must be logged in."))
    _require_visible(ticket, actor)
    ticket = _lock(ticket)
    if not is_agent(actor):
        _check_requester_status(ticket, status, now)
    _change_status_locked(
        ticket, actor=actor, status=status, channel=channel, now=now, note=reason, notify=notify
    )
    return ticket


def _check_requester_status(ticket, status, now) -> None:
    """Raise unless institution staff may move `ticket` to `status`."""
    # Institution staff may mark their request solved, or reopen it for a
    # while after resolution; everything else is the experts' call.
    if status == Status.RESOLVED and ticket.status in OPEN_STATUSES:
        return
    if status == Status.OPEN and ticket.status == Status.RESOLVED:
        if not _within_reopen_period(ticket, now):
            raise InvalidTransition(
                _("This request was resolved more than %(n)s days ago; file a new one.")
                % {"n": settings.HELPDESK["REOPEN_DAYS"]}
            )
        return
    raise NotAllowed(_("Only support staff may set this status."))


def _change_status_locked(ticket, *, actor, status, channel, now, note="", notify=True):
    old = ticket.status
    if status == old:
        return
    if status not in TRANSITIONS[Status(old)]:
        raise InvalidTransition(
            _("A request cannot go from “%(old)s” to “%(new)s”.")
            % {"old": Status(old).label, "new": Status(status).label}
        )
    from tickets.sla import on_status_change

    on_status_change(ticket, old=old, new=status, now=now)
    ticket.status = status
    ticket.updated_at = now
    if status == Status.RESOLVED:
        ticket.resolved_at = now
    elif status == Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif old == Status.RESOLVED:
        ticket.resolved_at = None
    ticket.save()
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.STATUS,
        field="status",
        old=old,
        new=status,
        note=note,
        at=now,
    )
    if status == Status.RESOLVED and notify:
        _notify("resolved", ticket.pk)
    _after_commit(ticket.pk, "status")


# --- assignment -----------------------------------------------------------------

_UNSET = object()


@transaction.atomic
def assign(
    *,
    ticket: Ticket,
    actor,
    assignee,
    reason: str = "",
    channel: str = Channel.CONSOLE,
    expected_assignee=_UNSET,
    now: datetime.datetime | None = None,
) -> Ticket:
    """Give the ticket to `assignee` (None returns it to the queue).

    With `expected_assignee` the change only happens if the ticket is still
    assigned as the caller saw it; otherwise Conflict is raised, so two agents
    taking one ticket at once cannot both win.
    """
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    ticket = _lock(ticket)
    if expected_assignee is not _UNSET:
        expected_id = expected_assignee.pk if expected_assignee is not None else None
        if ticket.assignee_id != expected_id:
            raise Conflict(
                _("Someone else has just taken this request (%(who)s).")
                % {"who": ticket.assignee or _("returned to the queue")}
            )
    if not ticket.is_open:
        raise InvalidTransition(_("Only open requests can be assigned."))
    if assignee is not None:
        if not assignee.is_active or assignee.agent is None:
            raise DomainError(
                _("Requests can be assigned only to support staff."), field="assignee"
            )
        if not Ticket.objects.visible_to(assignee).filter(pk=ticket.pk).exists():
            raise DomainError(
                _("%(who)s does not work on requests of this region or tier.") % {"who": assignee},
                field="assignee",
            )
    old = ticket.assignee
    if (old.pk if old else None) == (assignee.pk if assignee else None):
        return ticket
    ticket.assignee = assignee
    ticket.updated_at = now
    ticket.save(update_fields=["assignee", "updated_at"])
    if assignee is not None:
        from accounts.models import AgentProfile

        AgentProfile.objects.filter(user=assignee).update(last_assigned_at=now)
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.ASSIGNED,
        field="assignee",
        old=old or "",
        new=assignee or "",
        note=reason,
        at=now,
    )
    _after_commit(ticket.pk, "assigned")
    return ticket


def take(*, ticket: Ticket, actor, now=None) -> Ticket:
    """Take an unassigned ticket from a queue; Conflict if someone was faster."""
    return assign(
        ticket=ticket,
        actor=actor,
        assignee=actor,
        expected_assignee=None,
        reason=_("taken from the queue"),
        now=now,
    )


@transaction.atomic
def escalate(
    *, ticket: Ticket, actor, tier: str, reason: str, channel=Channel.CONSOLE, now=None
) -> Ticket:
    """Move the ticket to the central tier (or back to the region), unassigned."""
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    if tier not in Tier.values:
        raise DomainError(_("Unknown tier."))
    if not (reason or "").strip():
        raise DomainError(_("Say why the request changes tier."), field="reason")
    ticket = _lock(ticket)
    if ticket.tier == tier:
        raise InvalidTransition(_("The request is already there."))
    if tier == Tier.REGIONAL and ticket.region_id is None:
        raise DomainError(_("The request has no region; set the institution first."))
    old = ticket.tier
    ticket.tier = tier
    ticket.assignee = None
    ticket.updated_at = now
    ticket.save(update_fields=["tier", "assignee", "updated_at"])
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.ESCALATED,
        field="tier",
        old=old,
        new=tier,
        note=reason,
        at=now,
    )
    _after_commit(ticket.pk, "escalated")
    return ticket


@transaction.atomic
def change_priority(*, ticket: Ticket, actor, priority: str, channel=Channel.CONSOLE, now=None):
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    if priority not in Priority.values:
        raise DomainError(_("Unknown priority."), field="priority")
    ticket = _lock(ticket)
    if ticket.priority == priority:
        return ticket
    old = ticket.priority
    ticket.priority = priority
    ticket.updated_at = now
    from tickets.sla import apply_sla

    apply_sla(ticket, now=now, keep_start=True)
    ticket.save()
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.PRIORITY,
        field="priority",
        old=old,
        new=priority,
        at=now,
    )
    _after_commit(ticket.pk, "priority")
    return ticket


@transaction.atomic
def change_competence(
    *,
    ticket: Ticket,
    actor,
    competence: Competence,
    channel=Channel.CONSOLE,
    reroute=False,
    now=None,
):
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    if not isinstance(competence, Competence):
        raise DomainError(_("Choose a competence area."), field="competence")
    ticket = _lock(ticket)
    if ticket.competence_id == competence.pk:
        return ticket
    if not competence.is_active:
        raise DomainError(_("This competence area is no longer in use."), field="competence")
    old = ticket.competence
    ticket.competence = competence
    ticket.updated_at = now
    ticket.save(update_fields=["competence", "updated_at"])
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.COMPETENCE,
        field="competence",
        old=old or "",
        new=competence,
        at=now,
    )
    if reroute:
        from tickets.assignment import route_new_ticket

        ticket.assignee = None
        route_new_ticket(ticket, channel=channel, now=now, keep_competence=True)
        ticket.save()
    _after_commit(ticket.pk, "competence")
    return ticket


@transaction.atomic
def rate(*, ticket: Ticket, actor, score: int, comment: str = "", now=None) -> Ticket:
    """Record the requester's satisfaction (1–5) with a resolved request."""
    now = now or timezone.now()
    if actor is None or not actor.is_authenticated:
        raise NotAllowed(_("You must be logged in."))
    _require_visible(ticket, actor)
    ticket = _lock(ticket)
    if ticket.requester_id != actor.pk:
        raise NotAllowed(_("Only the requester may rate this request."))
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        raise InvalidTransition(_("A request can be rated once it is resolved."))
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise DomainError(_("Choose a rating from 1 to 5."), field="score")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise DomainError(_("The comment is too long."), field="comment")
    ticket.satisfaction = score
    ticket.satisfaction_comment = comment
    ticket.save(update_fields=["satisfaction", "satisfaction_comment"])
    _event(
        ticket,
        actor=actor,
        channel=Channel.PORTAL,
        kind=TicketEvent.Kind.RATED,
        field="satisfaction",
        new=str(score),
        note=comment,
        at=now,
    )
    return ticket


def record_event(ticket, **kwargs):
    """Write a history row from outside this module (mailbridge, SLA sweeps)."""
    return _event(ticket, **kwargs)


def remember_sent_message_id(ticket, message, message_id: str, recipient: str = ""):
    """Store the Message-ID of a mail we sent, so a reply to it threads here."""
    _remember_message_id(ticket, message, message_id, MailThreadKey.Direction.OUT, recipient)


@transaction.atomic
def close_resolved(*, ticket_id: int, now=None) -> bool:
    """Close a resolved request whose reopen period has passed (system action)."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if ticket is None or ticket.status != Status.RESOLVED:
        return False
    _change_status_locked(
        ticket,
        actor=None,
        status=Status.CLOSED,
        channel=Channel.SYSTEM,
        now=now,
        note=_("Closed automatically after the reopen period."),
    )
    return True


# --- console: merging, links, mass incidents, bulk actions, hand-off -------------


def _lock_pair(first: Ticket, second: Ticket) -> tuple[Ticket, Ticket]:
    """Lock two tickets in id order (so two merges cannot deadlock); return fresh copies."""
    rows = {
        t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[first.pk, second.pk])
    }
    return rows[first.pk], rows[second.pk]


@transaction.atomic
def merge(
    *, source: Ticket, target: Ticket, actor, channel=Channel.CONSOLE, notify=True, now=None
) -> Ticket:
    """Merge the duplicate `source` into `target`; return the target.

    The conversation, attachments and e-mail threads of the source move to
    the target, so a reply to an old mail lands there. The source is closed
    and points at the target (its reference keeps resolving). Its requester
    is told, and copied on the target's replies when it is someone else.
    """
    now = now or timezone.now()
    _require_agent(actor)
    if source.pk == target.pk:
        raise DomainError(_("A request cannot be merged into itself."))
    _require_visible(source, actor)
    _require_visible(target, actor)
    source, target = _lock_pair(source, target)
    if source.merged_into_id:
        raise InvalidTransition(
            _("%(ref)s is already merged into another request.") % {"ref": source.reference}
        )
    if target.merged_into_id:
        raise DomainError(
            _("%(ref)s was itself merged into another request; merge into that one.")
            % {"ref": target.reference}
        )
    if target.status == Status.CLOSED:
        raise InvalidTransition(_("A request cannot be merged into a closed one."))
    Message.objects.filter(ticket=source).update(ticket=target)
    Attachment.objects.filter(ticket=source).update(ticket=target)
    MailThreadKey.objects.filter(ticket=source).update(ticket=target)
    Ticket.objects.filter(parent=source).update(parent=target)
    if source.is_incident:
        target.is_incident = True

    source_email = (source.requester.email if source.requester_id else source.requester_email) or ""
    target_email = (target.requester.email if target.requester_id else target.requester_email) or ""
    copies = set(target.cc_emails) | set(source.cc_emails)
    if source_email and source_email.lower() != target_email.lower():
        copies.add(source_email.lower())
    copies.discard(target_email.lower())
    target.cc_emails = sorted(copies)
    stats = Message.objects.filter(ticket=target).aggregate(count=Count("id"), last=Max("id"))
    target.message_count = stats["count"] or 0
    target.last_message_id = stats["last"]
    target.has_attachments = Attachment.objects.filter(ticket=target, rejected_reason="").exists()
    target.updated_at = now
    target.save()
    target.related.add(source)

    source.merged_into = target
    source.message_count = 0
    source.has_attachments = False
    source.save(update_fields=["merged_into", "message_count", "has_attachments"])
    if source.status != Status.CLOSED:
        _change_status_locked(
            source,
            actor=actor,
            status=Status.CLOSED,
            channel=channel,
            now=now,
            note=_("Merged into %(ref)s") % {"ref": target.reference},
            notify=False,
        )
    _event(
        source,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.MERGED,
        field="merged_into",
        new=target.reference,
        note=_("Merged into %(ref)s") % {"ref": target.reference},
        at=now,
    )
    _event(
        target,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.MERGED,
        field="merged_from",
        old=source.reference,
        note=_("%(ref)s was merged into this request") % {"ref": source.reference},
        at=now,
    )
    if notify:
        _notify("merged", source.pk)
    _after_commit(source.pk, "merged")
    _after_commit(target.pk, "merged")
    return target


@transaction.atomic
def link_related(*, ticket: Ticket, other: Ticket, actor, channel=Channel.CONSOLE, now=None):
    """Mark two tickets as related (both ways); return `ticket`."""
    now = now or timezone.now()
    _require_agent(actor)
    if ticket.pk == other.pk:
        raise DomainError(_("A request cannot be related to itself."))
    _require_visible(ticket, actor)
    _require_visible(other, actor)
    ticket, other = _lock_pair(ticket, other)
    if ticket.related.filter(pk=other.pk).exists():
        return ticket
    ticket.related.add(other)
    for one, two in ((ticket, other), (other, ticket)):
        _event(
            one,
            actor=actor,
            channel=channel,
            kind=TicketEvent.Kind.LINKED,
            field="related",
            new=two.reference,
            at=now,
        )
        _after_commit(one.pk, "linked")
    return ticket


@transaction.atomic
def unlink_related(*, ticket: Ticket, other: Ticket, actor, channel=Channel.CONSOLE, now=None):
    """Remove the relation between two tickets; return `ticket`."""
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    ticket, other = _lock_pair(ticket, other)
    ticket.related.remove(other)
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.LINKED,
        field="related",
        old=other.reference,
        at=now,
    )
    _after_commit(ticket.pk, "linked")
    return ticket


@transaction.atomic
def set_incident(
    *, ticket: Ticket, actor, is_incident: bool = True, channel=Channel.CONSOLE, now=None
):
    """Mark (or unmark) the ticket as a mass incident; return it.

    An incident with linked requests cannot be unmarked; unlink them first.
    """
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    ticket = _lock(ticket)
    if ticket.is_incident == is_incident:
        return ticket
    if is_incident and ticket.parent_id:
        raise DomainError(_("A request linked to an incident cannot be an incident itself."))
    if not is_incident and Ticket.objects.filter(parent=ticket).exists():
        raise DomainError(_("Unlink the requests of this incident first."))
    ticket.is_incident = is_incident
    ticket.updated_at = now
    ticket.save(update_fields=["is_incident", "updated_at"])
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.LINKED,
        field="is_incident",
        old=str(not is_incident),
        new=str(is_incident),
        note=_("Marked as a mass incident") if is_incident else _("No longer a mass incident"),
        at=now,
    )
    _after_commit(ticket.pk, "incident")
    return ticket


@transaction.atomic
def link_to_incident(
    *, ticket: Ticket, incident: Ticket | None, actor, channel=Channel.CONSOLE, now=None
) -> Ticket:
    """Attach `ticket` to the mass incident `incident` (None detaches it); return it.

    The incident is marked as one if it is not yet. Incidents do not nest.
    """
    now = now or timezone.now()
    _require_agent(actor)
    _require_visible(ticket, actor)
    if incident is None:
        ticket = _lock(ticket)
        if ticket.parent_id is None:
            return ticket
        old = ticket.parent.reference
        ticket.parent = None
        ticket.save(update_fields=["parent"])
        _event(
            ticket,
            actor=actor,
            channel=channel,
            kind=TicketEvent.Kind.LINKED,
            field="parent",
            old=old,
            at=now,
        )
        _after_commit(ticket.pk, "incident")
        return ticket
    if incident.pk == ticket.pk:
        raise DomainError(_("A request cannot be linked to itself."))
    _require_visible(incident, actor)
    ticket, incident = _lock_pair(ticket, incident)
    if incident.parent_id:
        raise DomainError(
            _("%(ref)s is itself linked to an incident.") % {"ref": incident.reference}
        )
    if ticket.is_incident:
        raise DomainError(_("An incident cannot be linked to another incident."))
    if incident.merged_into_id or ticket.merged_into_id:
        raise DomainError(_("Merged requests cannot be linked."))
    if ticket.parent_id == incident.pk:
        return ticket
    if not incident.is_incident:
        incident.is_incident = True
        incident.save(update_fields=["is_incident"])
        _event(
            incident,
            actor=actor,
            channel=channel,
            kind=TicketEvent.Kind.LINKED,
            field="is_incident",
            old="False",
            new="True",
            note=_("Marked as a mass incident"),
            at=now,
        )
    old = ticket.parent.reference if ticket.parent_id else ""
    ticket.parent = incident
    ticket.updated_at = now
    ticket.save(update_fields=["parent", "updated_at"])
    _event(
        ticket,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.LINKED,
        field="parent",
        old=old,
        new=incident.reference,
        note=_("Linked to the mass incident %(ref)s") % {"ref": incident.reference},
        at=now,
    )
    _event(
        incident,
        actor=actor,
        channel=channel,
        kind=TicketEvent.Kind.LINKED,
        field="children",
        new=ticket.reference,
        at=now,
    )
    _after_commit(ticket.pk, "incident")
    _after_commit(incident.pk, "incident")
    return ticket


@dataclass
class BatchResult:
    """What a batch action did: references done, and (reference, reason) that failed."""

    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    message: Message | None = None


def reply_to_incident(
    *,
    incident: Ticket,
    actor,
    text: str,
    files: Iterable[CheckedFile] = (),
    new_status: str | None = None,
    channel=Channel.CONSOLE,
    now=None,
) -> BatchResult:
    """Post one public reply on the incident and the same reply in every linked request.

    Each linked request gets its own message through add_message, so each
    requester receives it by e-mail in their own thread (kind
    "incident_reply"). With `new_status` (e.g. resolved) every request moves
    too. A request that refuses (closed, merged) is listed in `failed`; the
    others still get the reply. Returns the result with the incident's message.
    """
    now = now or timezone.now()
    _require_agent(actor)
    files = list(files)
    result = BatchResult()
    result.message = add_message(
        ticket=incident,
        actor=actor,
        text=text,
        kind=Message.Kind.PUBLIC,
        channel=channel,
        files=files,
        new_status=new_status,
        now=now,
    )
    children = (
        Ticket.objects.filter(parent=incident, merged_into__isnull=True)
        .exclude(status=Status.CLOSED)
        .order_by("pk")
    )
    for child in children:
        try:
            message = add_message(
                ticket=child,
                actor=actor,
                text=text,
                kind=Message.Kind.PUBLIC,
                channel=channel,
                files=files,
                new_status=new_status,
                notify=False,
                now=now,
            )
        except DomainError as error:
            result.failed.append((child.reference, str(error.message)))
            continue
        _notify("incident_reply", child.pk, message.pk)
        result.done.append(child.reference)
    return result


def change_status_with_children(
    *, ticket: Ticket, actor, status: str, reason: str = "", channel=Channel.CONSOLE, now=None
) -> BatchResult:
    """Change the status of an incident and of every request linked to it."""
    now = now or timezone.now()
    change_status(
        ticket=ticket, actor=actor, status=status, channel=channel, reason=reason, now=now
    )
    result = BatchResult()
    for child in Ticket.objects.filter(parent=ticket, merged_into__isnull=True).order_by("pk"):
        if child.status == status:
            continue
        try:
            change_status(
                ticket=child, actor=actor, status=status, channel=channel, reason=reason, now=now
            )
        except DomainError as error:
            result.failed.append((child.reference, str(error.message)))
        else:
            result.done.append(child.reference)
    return result


BULK_ACTIONS = ("assign", "take", "release", "status", "priority", "close")


def bulk_update(
    *, tickets: Iterable[Ticket], actor, action: str, value=None, text: str = "", now=None
) -> BatchResult:
    """Apply one action to many tickets, each in its own transaction.

    Actions: assign (value: a user), take, release (back to the queue),
    status (value), priority (value), close (with `text` as a public reply
    first, when given). One ticket refusing does not stop the others.
    """
    _require_agent(actor)
    if action not in BULK_ACTIONS:
        raise DomainError(_("Unknown action."))
    now = now or timezone.now()
    result = BatchResult()
    for ticket in tickets:
        try:
            if action == "assign":
                assign(ticket=ticket, actor=actor, assignee=value, reason=text, now=now)
            elif action == "take":
                take(ticket=ticket, actor=actor, now=now)
            elif action == "release":
                assign(ticket=ticket, actor=actor, assignee=None, reason=text, now=now)
            elif action == "status":
                change_status(ticket=ticket, actor=actor, status=value, reason=text, now=now)
            elif action == "priority":
                change_priority(ticket=ticket, actor=actor, priority=value, now=now)
            elif action == "close":
                if Ticket.objects.filter(pk=ticket.pk, status=Status.CLOSED).exists():
                    raise InvalidTransition(_("The request is already closed."))
                if (text or "").strip():
                    add_message(
                        ticket=ticket,
                        actor=actor,
                        text=text,
                        channel=Channel.CONSOLE,
                        new_status=Status.CLOSED,
                        now=now,
                    )
                else:
                    change_status(ticket=ticket, actor=actor, status=Status.CLOSED, now=now)
        except DomainError as error:
            result.failed.append((ticket.reference, str(error.message)))
        else:
            result.done.append(ticket.reference)
    return result


# --- handover of an absent expert's requests ------------------------------------


def may_hand_over(actor, agent_user) -> bool:
    """Return True if `actor` may hand over the open requests of `agent_user`.

    Administrators may; so may supervisors of the agent's region and national
    supervisors (no region).
    """
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    if actor.is_superuser:
        return True
    supervisor = actor.agent
    if supervisor is None or not supervisor.is_supervisor:
        return False
    agent = agent_user.agent
    return supervisor.region_id is None or (
        agent is not None and supervisor.region_id == agent.region_id
    )


@transaction.atomic
def hand_over_open_tickets(
    *, from_agent, actor, to_agent=None, reason: str, channel=None, now=None
) -> list[Ticket]:
    """Move every open request of `from_agent` in one step; return the moved tickets.

    With `to_agent` all go to that colleague (who must work on each of them;
    a supervisor may load a colleague beyond capacity, and the history says
    so). Without, each request is routed again among the qualified experts of
    its region, competence and tier, leaving out `from_agent`; what nobody
    can take goes to the competence queue. Each request gets a history row
    with the reason. `actor` None means the system: the hand_over management
    command, run by someone with shell access.
    """
    from accounts.models import AgentProfile
    from tickets.assignment import pick_again

    now = now or timezone.now()
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError(_("Say why the requests are handed over."), field="reason")
    if from_agent is None or from_agent.agent is None:
        raise DomainError(_("Only support staff have requests to hand over."), field="from_agent")
    if actor is not None and not may_hand_over(actor, from_agent):
        raise NotAllowed(
            _("Only a supervisor of the region or an administrator may hand over requests.")
        )
    if channel is None:
        channel = Channel.SYSTEM if actor is None else Channel.CONSOLE
    if to_agent is not None:
        if to_agent.pk == from_agent.pk:
            raise DomainError(_("Choose a colleague, not the same person."), field="to_agent")
        if not to_agent.is_active or to_agent.agent is None:
            raise DomainError(
                _("Requests can be handed over only to support staff."), field="to_agent"
            )

    tickets = list(
        Ticket.objects.select_for_update(of=("self",))
        .filter(assignee=from_agent, status__in=OPEN_STATUSES)
        .select_related("region", "competence")
        .order_by("pk")
    )
    if to_agent is not None and tickets:
        visible = set(
            Ticket.objects.visible_to(to_agent)
            .filter(pk__in=[t.pk for t in tickets])
            .values_list("pk", flat=True)
        )
        foreign = [t.reference for t in tickets if t.pk not in visible]
        if foreign:
            raise DomainError(
                _("%(who)s does not work on %(refs)s (another region or tier).")
                % {"who": to_agent, "refs": ", ".join(foreign)},
                field="to_agent",
            )
        load = Ticket.objects.filter(assignee=to_agent, status__in=OPEN_STATUSES).count()
        capacity = to_agent.agent.capacity

    handed_over = _("Handed over from %(who)s: %(reason)s") % {"who": from_agent, "reason": reason}
    for ticket in tickets:
        if to_agent is not None:
            load += 1
            new_id = to_agent.pk
            detail = f"assigned to {to_agent}: load {load}/{capacity}"
            if load > capacity:
                detail += " (over capacity)"
        else:
            new_id, detail = pick_again(ticket, exclude_user_id=from_agent.pk, now=now)
        ticket.assignee_id = new_id
        ticket.updated_at = now
        ticket.save(update_fields=["assignee", "updated_at"])
        new_assignee = ticket.assignee if new_id else None
        _event(
            ticket,
            actor=actor,
            channel=channel,
            kind=TicketEvent.Kind.ASSIGNED,
            field="assignee",
            old=from_agent,
            new=new_assignee or "",
            note=f"{handed_over}; {detail}",
            at=now,
        )
        _after_commit(ticket.pk, "assigned")
    if to_agent is not None and tickets:
        AgentProfile.objects.filter(user=to_agent).update(last_assigned_at=now)
    return tickets
