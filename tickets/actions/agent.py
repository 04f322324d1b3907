"""An agent's own things: personal canned replies and macros, signatures, notification choices.

None of these touches a ticket, so none writes history; each checks that the
actor is support staff and acts only on the actor's own rows.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.errors import DomainError, NotAllowed
from tickets.actions.base import require_agent
from tickets.actions.tagging import parse_tags
from tickets.models import AgentSettings, CannedResponse, Competence, Macro, Notification

PREFERENCE_FIELDS = tuple(
    f"{kind}_{way}" for kind in Notification.Kind.values for way in ("console", "mail")
)
# An agent keeps at most this many personal canned replies.
PERSONAL_CANNED_MAX = 200


def _clean_title_body(title: str, body: str) -> tuple[str, str]:
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    if not title:
        raise DomainError(_("Give the reply a title."), field="title")
    if len(title) > CannedResponse.TITLE_MAX:
        raise DomainError(
            _("The title is longer than %(n)s characters.") % {"n": CannedResponse.TITLE_MAX},
            field="title",
        )
    if not body:
        raise DomainError(_("The text cannot be empty."), field="body")
    if len(body) > CannedResponse.BODY_MAX:
        raise DomainError(
            _("The text is longer than %(n)s characters.") % {"n": CannedResponse.BODY_MAX},
            field="body",
        )
    return title, body


@transaction.atomic
def save_personal_canned(*, actor, title: str, body: str, canned: CannedResponse | None = None):
    """Create (or, with `canned`, change) one of the actor's own canned replies."""
    require_agent(actor)
    title, body = _clean_title_body(title, body)
    if canned is None:
        if CannedResponse.objects.filter(owner=actor).count() >= PERSONAL_CANNED_MAX:
            raise DomainError(
                _("You have %(n)s canned replies already; delete one first.")
                % {"n": PERSONAL_CANNED_MAX}
            )
        return CannedResponse.objects.create(owner=actor, title=title, body=body)
    if canned.owner_id != actor.pk:
        raise NotAllowed(_("This canned reply is someone else's."))
    canned.title, canned.body = title, body
    canned.save(update_fields=["title", "body"])
    return canned


@transaction.atomic
def delete_personal_canned(*, actor, canned: CannedResponse) -> None:
    require_agent(actor)
    if canned.owner_id != actor.pk:
        raise NotAllowed(_("This canned reply is someone else's."))
    canned.delete()


MACRO_FIELDS = (
    "title",
    "body",
    "reply_kind",
    "status",
    "priority",
    "competence",
    "assign",
    "add_tags",
    "remove_tags",
)
PERSONAL_MACROS_MAX = 50


@transaction.atomic
def save_personal_macro(*, actor, values: dict, macro: Macro | None = None) -> Macro:
    """Create (or, with `macro`, change) one of the actor's own macros.

    `values` holds MACRO_FIELDS; the macro's own rules (Macro.clean) apply.
    """
    require_agent(actor)
    if macro is None:
        if Macro.objects.filter(owner=actor).count() >= PERSONAL_MACROS_MAX:
            raise DomainError(
                _("You have %(n)s macros already; delete one first.") % {"n": PERSONAL_MACROS_MAX}
            )
        macro = Macro(owner=actor)
    elif macro.owner_id != actor.pk:
        raise NotAllowed(_("This macro is someone else's."))
    competence = values.get("competence")
    if competence is not None and not isinstance(competence, Competence):
        raise DomainError(_("Choose a competence area."), field="competence")
    macro.competence = competence
    for name in MACRO_FIELDS:
        if name != "competence":
            setattr(macro, name, str(values.get(name) or ""))
    macro.title = " ".join(macro.title.split())
    macro.body = macro.body.replace("\r\n", "\n").strip()
    # Tag names are checked now, not when the macro is first used.
    macro.add_tags = ", ".join(parse_tags(macro.add_tags))
    macro.remove_tags = ", ".join(parse_tags(macro.remove_tags))
    try:
        macro.full_clean(exclude=["owner"])
    except ValidationError as error:
        raise DomainError("; ".join(error.messages)) from None
    macro.save()
    return macro


@transaction.atomic
def delete_personal_macro(*, actor, macro: Macro) -> None:
    require_agent(actor)
    if macro.owner_id != actor.pk:
        raise NotAllowed(_("This macro is someone else's."))
    macro.delete()


@transaction.atomic
def save_agent_settings(
    *, actor, signature_bg: str = "", signature_en: str = "", preferences: dict | None = None
) -> AgentSettings:
    """Save the actor's signatures and notification choices (missing choices: off)."""
    require_agent(actor)
    signatures = {}
    for name, value in (("signature_bg", signature_bg), ("signature_en", signature_en)):
        value = (value or "").replace("\r\n", "\n").strip()
        if len(value) > AgentSettings.SIGNATURE_MAX:
            raise DomainError(
                _("A signature is at most %(n)s characters.") % {"n": AgentSettings.SIGNATURE_MAX},
                field=name,
            )
        signatures[name] = value
    row, _created = AgentSettings.objects.select_for_update().get_or_create(user=actor)
    for name, value in signatures.items():
        setattr(row, name, value)
    if preferences is not None:
        for name in PREFERENCE_FIELDS:
            setattr(row, name, bool(preferences.get(name)))
    row.save()
    return row


@transaction.atomic
def mark_notifications_read(*, actor, ids=None, now: datetime.datetime | None = None) -> int:
    """Mark the actor's notifications read (`ids`, or all when None); return how many."""
    if actor is None or not actor.is_authenticated:
        raise NotAllowed(_("You must be logged in."))
    now = now or timezone.now()
    rows = Notification.objects.filter(recipient=actor, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids)[:500])
    return rows.update(read_at=now)
