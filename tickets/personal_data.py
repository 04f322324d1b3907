"""What the helpdesk holds about a person: export it, or anonymise the person.

Both are for administrators (the User admin's actions, registered from
tickets/admin.py because they read tickets, which accounts must not import).

- export_people() writes one zip archive: per person a ``data.json`` (the
  account, memberships, delegations, agent profile, the requests they filed
  with their conversation and history, every message they wrote, the mail
  sent to them, their rows of the access audit) and the files they uploaded.
- anonymise() replaces the person's name and e-mail address with
  placeholders wherever the helpdesk copied them (requests, messages, the
  addresses copied on requests, the outbox, thread keys), ends their sessions and delegations and
  deactivates the account; the requests, their texts and their history stay.

Each run leaves a row in the access audit. docs/personal-data.md says what is
kept, for how long, and what these two do not reach.
"""

import datetime
import json
import zipfile
from collections.abc import Iterable
from typing import IO

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import audit, services
from accounts.models import AccountEvent, Delegation, Membership, User
from helpdesk.errors import DomainError, NotAllowed
from tickets.models import (
    Attachment,
    MailThreadKey,
    Message,
    OutboundMail,
    Ticket,
    TicketEvent,
    Watcher,
)
from tickets.signals import person_anonymised

FORMAT_VERSION = 1


# --------------------------------------------------------------------------- export


def _when(value):
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _safe_name(name: str) -> str:
    """A file name that stays inside its folder of the archive."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "").strip().lstrip(".")
    return name[:120] or "file"


def _tickets_of(user) -> "Q":
    return Q(requester=user) | Q(requester_email=user.email)


def _watching(user) -> "Q":
    return Q(user=user) | Q(user__isnull=True, email__iexact=user.email)


def _messages_by(user) -> "Q":
    return Q(author=user) | Q(sender_email=user.email)


def _message_json(message: Message) -> dict:
    return {
        "id": message.pk,
        "request": message.ticket.reference,
        "kind": message.kind,
        "channel": message.channel,
        "author": message.author.email if message.author_id else None,
        "sender_email": message.sender_email,
        "sender_name": message.sender_name,
        "created_at": _when(message.created_at),
        "text": message.body_text,
        "html": message.body_html,
        "quoted_text": message.quoted_text,
        "files": [a.original_name for a in message.attachments.all()],
    }


def _event_json(event: TicketEvent) -> dict:
    return {
        "when": _when(event.created_at),
        "kind": event.kind,
        "actor": event.actor.email if event.actor_id else None,
        "channel": event.channel,
        "field": event.field,
        "from": event.old_value,
        "to": event.new_value,
        "note": event.note,
    }


def collect(user) -> tuple[dict, list[Attachment]]:
    """Return everything the helpdesk holds about `user` as plain data, and their files."""
    tickets = (
        Ticket.objects.filter(_tickets_of(user))
        .select_related("institution", "competence", "region", "assignee")
        .prefetch_related("watchers__user")
        .order_by("created_at", "id")
    )
    ticket_rows = []
    for ticket in tickets:
        messages = (
            ticket.messages.select_related("author", "ticket")
            .prefetch_related("attachments")
            .order_by("created_at", "id")
        )
        ticket_rows.append(
            {
                "reference": ticket.reference,
                "subject": ticket.subject,
                "status": ticket.status,
                "priority": ticket.priority,
                "channel": ticket.channel,
                "institution": ticket.institution.code if ticket.institution_id else None,
                "competence": ticket.competence.code if ticket.competence_id else None,
                "requester_email": ticket.requester_email,
                "requester_name": ticket.requester_name,
                "copies_to": [w.address for w in ticket.watchers.all()],
                "assignee": ticket.assignee.email if ticket.assignee_id else None,
                "created_at": _when(ticket.created_at),
                "updated_at": _when(ticket.updated_at),
                "resolved_at": _when(ticket.resolved_at),
                "closed_at": _when(ticket.closed_at),
                "satisfaction": ticket.satisfaction,
                "satisfaction_comment": ticket.satisfaction_comment,
                # Internal notes are included (marked "internal"): the
                # administrator reviews the archive before handing it over.
                "messages": [_message_json(m) for m in messages],
                "history": [
                    _event_json(e)
                    for e in TicketEvent.objects.filter(ticket=ticket)
                    .select_related("actor")
                    .order_by("created_at", "id")
                ],
            }
        )
    filed = {row["reference"] for row in ticket_rows}
    written = [
        _message_json(m)
        for m in Message.objects.filter(_messages_by(user))
        .exclude(ticket__reference__in=filed)
        .select_related("author", "ticket")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    ]
    files = list(
        Attachment.objects.filter(
            Q(uploaded_by=user) | Q(message__author=user) | Q(message__sender_email=user.email)
        )
        .exclude(file="")
        .select_related("ticket")
        .order_by("created_at", "id")
        .distinct()
    )
    profile = user.agent
    data = {
        "format": FORMAT_VERSION,
        "generated_at": _when(timezone.now()),
        "account": {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "language": user.language,
            "is_active": user.is_active,
            "administration_access": user.is_staff,
            "superuser": user.is_superuser,
            "groups": sorted(user.groups.values_list("name", flat=True)),
            "email_undeliverable": user.email_undeliverable,
            "date_joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
        },
        "agent_profile": None
        if profile is None
        else {
            "tier": profile.tier,
            "kind": profile.kind,
            "region": profile.region.code if profile.region_id else None,
            "competences": sorted(profile.competences.values_list("code", flat=True)),
            "capacity": profile.capacity,
            "absences": [
                {"from": _when(a.starts_at), "until": _when(a.ends_at), "note": a.note}
                for a in profile.absences.all()
            ],
        },
        "memberships": [
            {"institution": m.institution.code, "name": m.institution.name, "role": m.role}
            for m in Membership.objects.filter(user=user).select_related("institution")
        ],
        "delegations": [
            {
                "institution": d.institution.code,
                "granted_by": d.granted_by.email,
                "delegate": d.delegate.email,
                "rights": d.rights,
                "valid_from": _when(d.valid_from),
                "valid_until": _when(d.valid_until),
                "revoked_at": _when(d.revoked_at),
                "note": d.note,
            }
            for d in Delegation.objects.filter(Q(delegate=user) | Q(granted_by=user))
            .select_related("institution", "granted_by", "delegate")
            .order_by("valid_from", "id")
        ],
        "requests": ticket_rows,
        "messages_on_other_requests": written,
        # Requests the person follows, or whose replies their address is copied on.
        "following": [
            {
                "request": w.ticket.reference,
                "source": w.source,
                "added_at": _when(w.created_at),
                "added_by": w.added_by.email if w.added_by_id else None,
            }
            for w in Watcher.objects.filter(_watching(user))
            .select_related("ticket", "added_by")
            .order_by("created_at", "id")
        ],
        "files": [
            {
                "id": a.pk,
                "request": a.ticket.reference,
                "message": a.message_id,
                "name": a.original_name,
                "size": a.size,
                "content_type": a.content_type,
                "sha256": a.sha256,
                "in_archive": f"files/{a.pk}-{_safe_name(a.original_name)}",
            }
            for a in files
        ],
        "mail_sent": [
            {
                "kind": m.kind,
                "request": m.ticket.reference if m.ticket_id else None,
                "subject": m.subject,
                "state": m.state,
                "created_at": _when(m.created_at),
                "sent_at": _when(m.sent_at),
            }
            for m in OutboundMail.objects.filter(
                ticket__in=Ticket.objects.filter(_tickets_of(user))
            )
            .select_related("ticket")
            .order_by("created_at", "id")
            if user.email in (m.recipients or [])
        ],
        "access_audit": [
            {
                "when": _when(e.created_at),
                "kind": e.kind,
                "actor": e.actor.email if e.actor_id and e.actor else None,
                "person": audit.person_of(e),
                "institution": e.institution.code if e.institution_id and e.institution else None,
                "ip": e.ip,
                "detail": e.detail,
            }
            for e in AccountEvent.objects.filter(Q(subject=user) | Q(actor=user))
            .select_related("actor", "subject", "institution")
            .order_by("created_at", "id")
        ],
    }
    return data, files


def export_people(users: Iterable[User], out: IO[bytes], *, actor, request=None) -> int:
    """Write one zip archive of everything held about each of `users` to `out`; return how many.

    One folder per person (``<id>-<e-mail>/``) with ``data.json`` and
    ``files/``. Each export is recorded in the access audit.
    """
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for user in users:
            data, files = collect(user)
            folder = f"{user.pk}-{_safe_name(user.email)}"
            archive.writestr(
                f"{folder}/data.json", json.dumps(data, ensure_ascii=False, indent=2, default=str)
            )
            for attachment, row in zip(files, data["files"], strict=True):
                try:
                    with attachment.file.open("rb") as handle:
                        archive.writestr(f"{folder}/{row['in_archive']}", handle.read())
                except OSError:
                    row["missing"] = True
            audit.record(
                AccountEvent.Kind.PERSONAL_DATA_EXPORTED,
                actor=actor,
                subject=user,
                request=request,
                detail={
                    "person": user.email,
                    "requests": len(data["requests"]),
                    "files": len(files),
                },
            )
            count += 1
    return count


# --------------------------------------------------------------------------- anonymising


def placeholders(user) -> tuple[str, str]:
    """The name and e-mail address an anonymised person is shown with."""
    with translation.override(settings.LANGUAGE_CODE):
        name = _("Anonymised person %(n)s") % {"n": user.pk}
    return name, f"anonymised-{user.pk}@anonymised.invalid"


def _replace_in_lists(rows, field: str, old: str, new: str) -> int:
    changed = []
    for row in rows:
        values = getattr(row, field) or []
        if old in values:
            setattr(row, field, [new if v == old else v for v in values])
            changed.append(row)
    if changed:
        type(changed[0]).objects.bulk_update(changed, [field])
    return len(changed)


def _copies_become_the_person(user, old: str) -> int:
    """Requests `old` was copied on now follow the (anonymised) account instead; return how many.

    The account gets the placeholder address and no more mail, so the
    bare address is gone from the requests while the history stays.
    """
    rows = Watcher.objects.filter(user__isnull=True, email__iexact=old)
    already = set(Watcher.objects.filter(user=user).values_list("ticket_id", flat=True))
    rows.filter(ticket_id__in=already).delete()
    return rows.update(user=user, email="")


@transaction.atomic
def anonymise(user, *, actor, request=None) -> dict:
    """Replace `user`'s name and address everywhere the helpdesk copied them; return counts.

    The account keeps its id (requests, messages and history stay linked to
    it) but gets placeholders, an unusable password and is deactivated; its
    sessions and delegations end. Texts people wrote are not rewritten.
    """
    if actor is not None and actor.pk == user.pk:
        raise NotAllowed(_("You cannot anonymise yourself."))
    user = User.objects.select_for_update().get(pk=user.pk)
    name, email = placeholders(user)
    if user.email == email:
        raise DomainError(_("This person is already anonymised."))
    old = user.email
    tickets = Ticket.objects.filter(Q(requester=user) | Q(requester_email=old))
    counts = {
        "requests": tickets.update(requester_email=email, requester_name=name),
        "messages": Message.objects.filter(_messages_by(user)).update(
            sender_email=email, sender_name=name
        ),
        "copies": _copies_become_the_person(user, old),
        "mail": _replace_in_lists(
            OutboundMail.objects.filter(recipients__icontains=old), "recipients", old, email
        ),
    }
    MailThreadKey.objects.filter(recipient=old).update(recipient=email)
    user.email = email
    user.full_name = name
    user.email_undeliverable = True
    user.set_unusable_password()
    user.save()
    # After the save, so that their audit rows name the placeholder.
    services.end_delegations(
        Delegation.objects.filter(delegate=user).select_related("delegate"),
        actor=actor,
        reason="anonymised",
    )
    if user.is_active:
        services.deactivate_user(user, actor=actor, request=request)
    else:
        services.end_sessions(user)
    audit.record(
        AccountEvent.Kind.ANONYMISED,
        actor=actor,
        subject=user,
        request=request,
        detail={"person": email, **counts},
    )
    # The doors forget the address too (the mail bridge: received mail).
    transaction.on_commit(
        lambda: person_anonymised.send_robust(
            sender=User, user_id=user.pk, old_email=old, new_email=email
        )
    )
    return counts
