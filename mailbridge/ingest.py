"""One entry for every received e-mail: store it, then turn it into a ticket change.

The IMAP poller stores batches through mailbridge.queue and celery workers
process the stored rows there (queue.drain, in order per conversation);
``process_message`` stores and processes one message at once, for
``manage.py ingest_eml`` and the admin's "run again". Either way the order of
work is what makes a crash harmless:

1. the raw bytes are inserted as an InboundMessage in their own committed
   transaction, under unique keys (mailbox, UIDVALIDITY, UID) and the
   Message-ID (or a digest of the bytes); a second pass over the same message
   finds the row and does nothing;
2. the message is parsed and classified (auto-reply, bounce, our own loop);
3. one transaction calls the domain's actions and marks the row done (only if
   it is still unfinished), so the ticket change and "done" commit together;
4. the caller moves the message out of the IMAP inbox only after step 1
   (and, where it processes the mail itself, step 3) has committed.

An exception in step 2 or 3 quarantines the message with the reason (it
never blocks the ones behind it); a database that is down is different: the
error goes up to the caller, the row stays "received" and the next pass
(or worker) finishes it.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from email.utils import parseaddr

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.backends import read_person
from accounts.models import Membership
from accounts.permissions import is_agent
from helpdesk import egn
from helpdesk.cache import count_up
from helpdesk.uploads import MAIL_TYPES, UploadRejected, check_file
from mailbridge import noise, reads
from mailbridge.authentication import authentication_results, judge
from mailbridge.models import InboundMessage, Mailbox, UndeliverableAddress
from mailbridge.parsing import ParsedMail, parse_message
from mailbridge.reference import find_reference, strip_reply_prefixes
from tickets import actions, events, outbox, policies
from tickets.models import MailThreadKey, Message, Status, Ticket

log = logging.getLogger(__name__)

CREATED = InboundMessage.Outcome.CREATED.value
FOLLOWUP = InboundMessage.Outcome.FOLLOWUP.value
IGNORED = InboundMessage.Outcome.IGNORED.value
QUARANTINED = InboundMessage.Outcome.QUARANTINED.value
DUPLICATE = InboundMessage.Outcome.DUPLICATE.value
HELD = InboundMessage.Outcome.HELD.value
OUTCOMES = (CREATED, FOLLOWUP, IGNORED, QUARANTINED, DUPLICATE, HELD)

# A message whose processing was cut short this many times (the process died
# on it each time) is quarantined instead of tried again. Messages keep their
# order meanwhile: a reply must not be processed before the mail it answers.
MAX_ATTEMPTS = 10
# HTML bigger than this is not kept for display; the text is.
MAX_HTML_CHARS = 1_000_000
# Errors that mean "the database is unreachable right now", not "this message is bad".
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class Outcome:
    """What became of one message: outcome, the ticket reference (or None), why."""

    outcome: str
    ticket: str | None = None
    reason: str = ""
    inbound_id: int | None = None

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "ticket": self.ticket, "reason": self.reason}


@dataclass
class _Decision:
    outcome: str
    state: str
    ticket: object = None
    reason: str = ""
    proof: str = ""


# --- keys ----------------------------------------------------------------------------

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID_HEADER = re.compile(rb"(?im)^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)")
_ANGLE_ID = re.compile(r"<([^<>\s]{1,998})>")


def header_message_id(raw: bytes) -> str:
    """Return the Message-ID of a raw message without its angle brackets, or ""."""
    head = raw[:65536]
    end = _HEAD_END.search(head)
    if end is not None:
        head = head[: end.start()]
    match = _MESSAGE_ID_HEADER.search(head)
    if match is None:
        return ""
    value = match.group(1).decode("utf-8", "replace").replace("\r", "").replace("\n", "")
    found = _ANGLE_ID.search(value)
    if found:
        return found.group(1)
    tokens = [t.strip("<>") for t in value.split() if t.strip("<>")]
    return tokens[0] if tokens else ""


def message_key(raw: bytes) -> tuple[str, str, str]:
    """Return (unique key, Message-ID, sha256 of the bytes) for a raw message."""
    digest = hashlib.sha256(raw).hexdigest()
    message_id = header_message_id(raw).replace("\x00", "")
    if message_id:
        return key_for_message_id(message_id), message_id[:255], digest
    return f"sha256:{digest}", "", digest


def key_for_message_id(message_id: str) -> str:
    """The unique key of the row of the message with this Message-ID."""
    if len(message_id) <= 240:
        return f"mid:{message_id}"
    return f"midh:{hashlib.sha256(message_id.encode()).hexdigest()}"


# --- entry ---------------------------------------------------------------------------


def process_message(
    raw: bytes,
    *,
    mailbox: Mailbox | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> Outcome:
    """Store, classify and apply one raw e-mail; return its Outcome.

    Outcome.outcome is one of created, followup, ignored, quarantined,
    duplicate. Raises only OperationalError/InterfaceError (the database is
    unreachable); the message is then stored or not, never half-applied.
    """
    from mailbridge import queue  # the queue builds on this module

    raw = bytes(raw)
    holder, token = queue.new_holder()
    queue._live_tokens.add(token)
    try:
        # Stored claimed by this call, so that no worker takes it meanwhile.
        (stored,) = queue.store_batch(
            [queue.prepare(raw, uid)],
            mailbox=mailbox,
            uidvalidity=uidvalidity,
            attempts=1,
            claim_by=holder,
        )
        if stored.outcome is not None:
            return stored.outcome
        row = InboundMessage.objects.get(pk=stored.row_id)
        if row.state != InboundMessage.State.RECEIVED:  # finished by a worker just now
            return _finished_outcome(row)
        if not stored.fresh:
            # An earlier pass did not finish (it crashed, or the database
            # went away) — or is running right now; the conditional finish sorts that out.
            InboundMessage.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            row.attempts += 1
            if row.attempts > MAX_ATTEMPTS:
                return _quarantine(
                    row,
                    None,
                    _("Processing did not finish after %(n)s attempts.") % {"n": MAX_ATTEMPTS},
                )
        return _run(row, raw)
    finally:
        queue._live_tokens.discard(token)


def reprocess(inbound_id: int, *, released_by=None) -> Outcome:
    """Run a stored (quarantined, held or unfinished) message again; return its new Outcome.

    With `released_by` (an administrator who checked a held message) the
    sender counts as proven this time, and who vouched for it is recorded.
    """
    with transaction.atomic():
        row = InboundMessage.objects.select_for_update().get(pk=inbound_id)
        if row.state not in (InboundMessage.State.QUARANTINED, InboundMessage.State.RECEIVED):
            return _finished_outcome(row)
        row.state = InboundMessage.State.RECEIVED
        row.attempts += 1
        fields = ["state", "attempts"]
        if released_by is not None:
            row.released_by = released_by
            fields.append("released_by")
        row.save(update_fields=fields)
    return _run(row, bytes(row.raw))


def _finished_outcome(row: InboundMessage) -> Outcome:
    reference = row.ticket.reference if row.ticket_id else None
    return finished_outcome(row.pk, row.state, row.outcome, row.reason, reference)


def finished_outcome(pk, state, outcome, reason, reference) -> Outcome:
    """The Outcome of meeting again a message that is done with (its row's values)."""
    if state == InboundMessage.State.QUARANTINED:
        return Outcome(outcome or QUARANTINED, reference, reason, pk)
    label = InboundMessage.State(state).label
    return Outcome(DUPLICATE, reference, _("Already received (%(state)s).") % {"state": label}, pk)


class _FinishedElsewhere(Exception):
    """Another process finished this message while we worked on it."""


def _run(row: InboundMessage, raw: bytes) -> Outcome:
    parsed = None
    try:
        parsed = _sanitise(parse_message(raw))
        if parsed.structure_unreadable:
            # Its headers were read, its parts could not be: kept for a person to look at.
            return _quarantine(
                row,
                parsed,
                _("The MIME structure of this e-mail could not be read; its headers are kept.")
                + (" " + "; ".join(parsed.defects[:5]) if parsed.defects else ""),
            )
        # All or nothing: the actions join this transaction without savepoints.
        with transaction.atomic(), actions.in_callers_transaction():
            decision = _decide(parsed, row)
            if not _finish(row, parsed, decision):
                raise _FinishedElsewhere  # roll our ticket change back
    except _FinishedElsewhere:
        done = InboundMessage.objects.defer("raw").select_related("ticket").get(pk=row.pk)
        return _finished_outcome(done)
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:  # any failure quarantines, never blocks
        log.exception("mailbridge: message %s quarantined", row.pk)
        return _quarantine(row, parsed, f"{type(error).__name__}: {error}")
    reference = decision.ticket.reference if decision.ticket is not None else None
    return Outcome(decision.outcome, reference, decision.reason, row.pk)


def _finish(row: InboundMessage, parsed: ParsedMail, decision: _Decision) -> bool:
    """Mark the row done in the ticket's transaction; False if it was done already.

    The UPDATE is conditional on the row still being unfinished, and it takes
    the row lock: of two processes racing on one message, the second waits
    for the first to commit, then updates nothing and rolls back.
    """
    return bool(
        InboundMessage.objects.filter(pk=row.pk, state=InboundMessage.State.RECEIVED).update(
            state=decision.state,
            outcome=decision.outcome,
            ticket=decision.ticket,
            reason=decision.reason[:2000],
            sender_proof=decision.proof[:255],
            sender=_clean(parsed.from_addr.lower())[:254],
            subject=egn.mask(_clean(parsed.subject))[0][:255],  # ЕГН hidden here too
            processed_at=timezone.now(),
        )
    )


def _quarantine(row: InboundMessage, parsed: ParsedMail | None, reason: str) -> Outcome:
    fields = {
        "state": InboundMessage.State.QUARANTINED,
        "outcome": QUARANTINED,
        "reason": reason[:2000],
        "processed_at": timezone.now(),
    }
    if parsed is not None:
        fields["sender"] = _clean(parsed.from_addr.lower())[:254]
        fields["subject"] = egn.mask(_clean(parsed.subject))[0][:255]
    InboundMessage.objects.filter(pk=row.pk, state=InboundMessage.State.RECEIVED).update(**fields)
    return Outcome(QUARANTINED, None, reason, row.pk)


# --- deciding ------------------------------------------------------------------------

_own_cache: dict = {}


def own_addresses(
    mailbox: Mailbox | None = None, *, mailbox_id: int | None = None
) -> frozenset[str]:
    """Return the addresses the helpdesk sends from or receives at (lower case).

    With the mailbox (or its id) a mail came in by, that mailbox's address is
    among them even if it was added since the list was last read; by id, the
    mailbox is read only then, not for every mail.
    """
    config = (
        settings.HELPDESK["SUPPORT_ADDRESS"],
        settings.DEFAULT_FROM_EMAIL,
        settings.SERVER_EMAIL,
    )
    cached = _own_cache.get(config)
    if cached is None or time.monotonic() - cached[0] > 30:
        addresses = {parseaddr(value)[1].lower() for value in config}
        boxes = list(Mailbox.objects.values_list("pk", "address"))
        addresses.update(address.lower() for _pk, address in boxes)
        addresses.discard("")
        cached = (time.monotonic(), frozenset(addresses), frozenset(pk for pk, _a in boxes))
        _own_cache.clear()
        _own_cache[config] = cached
    if mailbox is None and mailbox_id is not None and mailbox_id not in cached[2]:
        mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
    if mailbox is not None and mailbox.address.lower() not in cached[1]:
        return cached[1] | {mailbox.address.lower()}
    return cached[1]


def clear_caches() -> None:
    _own_cache.clear()
    _undeliverable_seen.update(at=-1e9, any=True)


def _decide(parsed: ParsedMail, row: InboundMessage) -> _Decision:

    sender = _clean(parsed.from_addr).strip().lower()[:254]
    verdict = noise.classify(
        parsed, set(own_addresses(mailbox_id=row.mailbox_id)), settings.HELPDESK["LOOP_HEADER"]
    )
    if verdict.kind == noise.OWN_LOOP:
        log.info("mailbridge: dropped our own mail %s (%s)", row.message_id, verdict.reason)
        return _ignored(_("Our own mail: %(why)s") % {"why": verdict.reason})
    if verdict.kind == noise.BOUNCE:
        return _bounce(parsed, verdict.reason)

    ids = _thread_ids(parsed)
    keys = {}
    if ids or parsed.message_id:
        lookup = [*ids, parsed.message_id] if parsed.message_id else ids
        # With the tickets (and requesters) they lead to: no second query for a reply.
        keys = {key.mail_id: (key.ticket, key.direction) for key in reads.thread_keys(lookup)}
    if parsed.message_id and keys.get(parsed.message_id, (0, ""))[1] == "out":
        log.info("mailbridge: dropped our own mail %s coming back", parsed.message_id)
        return _ignored(_("Our own mail came back (its Message-ID is one we sent)."))
    if not sender or "@" not in sender:
        return _ignored(_("The e-mail has no sender address."))

    user = _known_user(sender)
    ticket, how = _find_ticket(parsed, ids, keys)
    proof = _sender_proof(row, sender)
    if user is not None and not proof.proven:
        if is_agent(user) or settings.HELPDESK["MAIL_UNPROVEN_REQUESTER"] == "hold":
            return _hold(sender, user, ticket, proof)
        # A requester's address that is not proven is only an address: the
        # mail is kept, but never as the person's own words.
        user = None
    decision = _apply(parsed, verdict, sender, user, ticket, how, proof.proven)
    decision.proof = proof.reason
    return decision


def _apply(
    parsed: ParsedMail, verdict, sender: str, user, ticket, how: str, proven: bool
) -> _Decision:
    """Decide what a mail from `sender` (as `user`, when proven) does to `ticket`, and do it."""
    if verdict.kind == noise.AUTO_REPLY:
        return _auto_reply(parsed, sender, user, ticket, verdict.reason)

    limit = settings.HELPDESK["MAIL_PER_SENDER_HOUR"]
    if not is_agent(user) and _recent_count(sender) >= limit:
        log.warning("mailbridge: sender %s is over %s messages an hour", sender, limit)
        return _ignored(
            _("More than %(n)s e-mails from this sender within an hour.") % {"n": limit},
            ticket,
        )
    _clear_undeliverable(sender, user)

    if ticket is not None:
        allowed, actor = _may_write(ticket, sender, user)
        if (
            allowed
            and is_agent(actor)
            and not policies.open_for_reply(ticket, None, timezone.now())
        ):
            # Staff answer a closed request in the console, where they see it.
            return _ignored(
                _("%(ref)s is closed; staff answer closed requests in the console.")
                % {"ref": ticket.reference},
                ticket,
            )
        if allowed and policies.open_for_reply(ticket, actor, timezone.now()):
            _add_reply(ticket, parsed, sender, actor)
            _note_copied(ticket, parsed, sender)
            reason = _("Reply added to %(ref)s (found by %(how)s).")
            return _Decision(
                FOLLOWUP,
                InboundMessage.State.PROCESSED,
                ticket,
                reason % {"ref": ticket.reference, "how": how},
            )
        if allowed:
            why = _(
                "%(ref)s is closed (or resolved too long ago); a new linked request was opened."
            )
        else:
            why = _(
                "The sender is not on %(ref)s (requester, copy or staff); "
                "a new linked request was opened."
            )
        created = _create(parsed, sender, user, related_to=ticket, proven=proven)
        return _Decision(
            CREATED, InboundMessage.State.PROCESSED, created, why % {"ref": ticket.reference}
        )

    created = _create(parsed, sender, user, proven=proven)
    return _Decision(CREATED, InboundMessage.State.PROCESSED, created, _("New request."))


@dataclass(frozen=True)
class _Proof:
    proven: bool
    reason: str


def _sender_proof(row: InboundMessage, sender: str) -> _Proof:
    """Whether the From address is proven (Authentication-Results, or an administrator)."""
    if settings.HELPDESK["MAIL_SENDER_AUTH"] == "off":
        return _Proof(True, "sender authentication is off")
    if row.released_by_id:
        return _Proof(True, f"released by {row.released_by}")
    verdict = judge(
        authentication_results(bytes(row.raw)), sender, settings.HELPDESK["MAIL_AUTHSERV_IDS"]
    )
    return _Proof(verdict.proven, verdict.reason)


def _hold(sender: str, user, ticket, proof: _Proof) -> _Decision:
    """Keep a mail whose From is a known person but not proven, for an administrator to judge."""
    reason = _(
        "Held for review: the mail claims to be from %(who)s, but the sender is not "
        "proven (%(why)s)."
    ) % {"who": sender, "why": proof.reason}
    if ticket is not None:
        events.mail_note(ticket, note=reason)
        if is_agent(user):
            # The agent whose address was used hears of it, on the ticket concerned.
            outbox.notify("mail_held", ticket, to=[(user.email, user.language)])
    return _Decision(HELD, InboundMessage.State.QUARANTINED, ticket, reason, proof.reason)


def _ignored(reason: str, ticket=None) -> _Decision:
    return _Decision(IGNORED, InboundMessage.State.IGNORED, ticket, reason)


def _thread_ids(parsed: ParsedMail) -> list[str]:
    """Return the Message-IDs this mail answers, the closest first (at most 50)."""
    ids = [parsed.in_reply_to] if parsed.in_reply_to else []
    ids.extend(reversed(parsed.references))
    return [i[:255] for i in dict.fromkeys(i for i in ids if i)][:50]


def _find_ticket(parsed: ParsedMail, ids: list[str], keys: dict):
    """Return (ticket, how it was found) for a reply, or (None, "")."""

    reference = find_reference(parsed.subject)
    if reference:
        ticket = Ticket.objects.select_related("requester").filter(reference=reference).first()
        if ticket is not None:
            return _follow_merges(ticket), _("the reference in the subject")
    for mail_id in ids:
        if mail_id in keys:
            return _follow_merges(keys[mail_id][0]), _("the e-mail headers")
    return None, ""


def _follow_merges(ticket):
    seen = set()
    while ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = type(ticket).objects.select_related("requester").get(pk=ticket.merged_into_id)
    return ticket


def _known_user(sender: str):
    user = read_person(email=sender)
    return user if user is not None and user.is_active else None


def _recent_count(sender: str) -> int:
    return reads.processed_since(sender, timezone.now() - datetime.timedelta(hours=1))


def _visible(ticket, user) -> bool:

    return Ticket.objects.visible_to(user).filter(pk=ticket.pk).exists()


def _watcher_addresses(ticket) -> set[str]:
    """The addresses of the people and copied addresses following `ticket`."""
    return {
        (user_email or email).lower()
        for user_email, email in ticket.watchers.values_list("user__email", "email")
    }


def _may_write(ticket, sender: str, user):
    """Return (may this sender write to the ticket, the actor to write as).

    Only the requester, an address already among the ticket's copies, or
    staff who may see the ticket; a known person writes as themselves when
    they may see the ticket, otherwise by address only.
    """

    if user is not None and ticket.requester_id == user.pk:
        return True, user
    addresses = {ticket.requester_email.lower()}
    if ticket.requester_id:
        addresses.add(ticket.requester.email.lower())
    # The watchers are read only when the sender is not the requester.
    if sender in addresses or sender in _watcher_addresses(ticket):
        return True, (user if user is not None and _visible(ticket, user) else None)
    if is_agent(user) and _visible(ticket, user):
        return True, user
    return False, None


def _auto_reply(parsed, sender, user, ticket, why) -> _Decision:

    if ticket is None:
        return _ignored(_("Automatic reply (%(why)s) about no known request.") % {"why": why})
    allowed, actor = _may_write(ticket, sender, user)
    if not allowed or ticket.status == Status.CLOSED:
        return _ignored(
            _("Automatic reply (%(why)s) not stored on %(ref)s.")
            % {"why": why, "ref": ticket.reference},
            ticket,
        )
    if Message.objects.filter(ticket=ticket, is_auto_reply=True).exists():
        return _ignored(
            _("Automatic reply (%(why)s): %(ref)s already has one.")
            % {"why": why, "ref": ticket.reference},
            ticket,
        )
    # Stored on the ticket for the agent to see, never answered.
    _add_reply(ticket, parsed, sender, actor, is_auto_reply=True, notify=False)
    return _Decision(
        FOLLOWUP,
        InboundMessage.State.PROCESSED,
        ticket,
        _("Automatic reply (%(why)s) stored; not answered.") % {"why": why},
    )


def _bounce(parsed: ParsedMail, why: str) -> _Decision:
    """Record a bounce on the ticket of the bounced mail and flag the failed address.

    An address is flagged only when the bounce names a mail we sent to it (by
    its Message-ID) or an address of the ticket named in the subject, so a
    forged bounce cannot switch off someone else's notifications.
    """

    ticket, sent_to = None, ""
    original = parsed.bounce_original_message_id
    if original:
        key = MailThreadKey.objects.select_related("ticket").filter(mail_id=original[:255]).first()
        if key is not None:
            ticket = key.ticket
            sent_to = key.recipient.lower() if key.direction == "out" else ""
    if ticket is None:
        reference = find_reference(parsed.subject) or find_reference(parsed.full_text[:5000])
        if reference:
            ticket = Ticket.objects.select_related("requester").filter(reference=reference).first()
    if ticket is None:
        return _ignored(_("Bounce (%(why)s) of no mail we know.") % {"why": why})
    known = {sent_to} if sent_to else set()
    known.add(ticket.requester_email.lower())
    known.update(_watcher_addresses(ticket))
    if ticket.requester_id:
        known.add(ticket.requester.email.lower())
    known.discard("")
    failed = [a.lower() for a in parsed.bounce_recipients if a.lower() in known]
    if not failed and sent_to and not parsed.bounce_recipients:
        failed = [sent_to]
    if failed:
        _mark_undeliverable(failed, why)
        note = _("Mail to %(who)s could not be delivered; no more notifications go there.") % {
            "who": ", ".join(failed)
        }
    else:
        note = _("A delivery report arrived: %(why)s") % {"why": why}
    events.mail_note(ticket, note=note)
    return _ignored(
        _("Bounce recorded on %(ref)s. %(note)s") % {"ref": ticket.reference, "note": note}, ticket
    )


def _mark_undeliverable(addresses: list[str], why: str) -> None:

    account_services.mark_email_undeliverable(addresses)
    _undeliverable_seen["any"] = True
    now = timezone.now()
    for address in addresses:
        updated = UndeliverableAddress.objects.filter(address=address).update(
            bounce_count=F("bounce_count") + 1, last_bounce_at=now, reason=why[:255]
        )
        if not updated:
            UndeliverableAddress.objects.bulk_create(
                [UndeliverableAddress(address=address, reason=why[:255], last_bounce_at=now)],
                ignore_conflicts=True,
            )


def _clear_undeliverable(sender: str, user) -> None:
    # Someone who writes to us can evidently receive mail again.
    if user is not None and user.email_undeliverable:
        account_services.mark_email_deliverable(user)
    if _any_undeliverable():
        UndeliverableAddress.objects.filter(address=sender).delete()


_undeliverable_seen = {"at": -1e9, "any": True}


def _any_undeliverable() -> bool:
    """Whether any address is flagged (looked up at most every 30 s, not per message)."""
    if time.monotonic() - _undeliverable_seen["at"] > 30:
        _undeliverable_seen["any"] = UndeliverableAddress.objects.exists()
        _undeliverable_seen["at"] = time.monotonic()
    return _undeliverable_seen["any"]


# --- writing -------------------------------------------------------------------------


def _add_reply(ticket, parsed, sender, actor, **options):
    text, quoted = _body(parsed)
    files, rejected = _attachments(parsed)
    _note_omitted(ticket, parsed)
    return actions.add_message(
        ticket=ticket,
        actor=actor,
        channel="email",
        text=text,
        quoted_text=quoted,
        html=_html(parsed),
        html_is_clean=True,
        files=files,
        rejected_files=rejected,
        sender_email=sender,
        sender_name=_name(parsed),
        email_message_id=parsed.message_id[:255],
        **options,
    )


_BULK_PRECEDENCE = {"bulk", "list", "junk"}


def _looks_bulk(parsed: ParsedMail) -> bool:
    """Mail sent to many at once: a list, a newsletter, a campaign."""
    headers = parsed.headers
    precedence = headers.get("precedence", "").strip().lower()
    return bool(
        precedence in _BULK_PRECEDENCE
        or headers.get("list-id")
        or headers.get("list-unsubscribe")
        or len(parsed.to) + len(parsed.cc) > 20
    )


def _acknowledgement(parsed: ParsedMail, sender: str, proven: bool) -> str:
    """Return "" when a new request from `sender` may be acknowledged, else why not.

    The helpdesk must not be a way to mail strangers: an acknowledgement
    goes to an address that wrote to us, and forged senders would make it
    write to anyone. So at most ACK_PER_HOUR acknowledgements an hour in
    all, ACK_PER_DOMAIN_HOUR per sender domain, and none to an unproven
    sender of bulk-looking mail. Counted in the cache, per clock hour.
    """
    if not proven and _looks_bulk(parsed):
        return _("No acknowledgement: bulk-looking mail from a sender that is not proven.")
    rules = settings.HELPDESK
    hour = int(time.time() // 3600)
    domain = sender.rpartition("@")[2]
    limits = (
        (f"hd:ack:{hour}", rules["ACK_PER_HOUR"], _("all senders")),
        (f"hd:ack:{hour}:{domain}"[:200], rules["ACK_PER_DOMAIN_HOUR"], domain),
    )
    # Both counters in one round trip to the cache.
    counts = count_up(cache, [key for key, _limit, _scope in limits], 3700)
    for count, (_key, limit, scope) in zip(counts, limits, strict=True):
        if count > limit:
            return _(
                "No acknowledgement: more than %(n)s acknowledgements this hour (%(scope)s)."
            ) % {"n": limit, "scope": scope}
    return ""


def _note_omitted(ticket, parsed: ParsedMail) -> None:
    """Tell the agent when parts of a hostile-sized mail were not read (they stay in the raw mail)."""
    if parsed.omitted_parts or parsed.omitted_attachments:
        events.mail_note(
            ticket,
            note=_(
                "%(parts)s parts and %(files)s attachments of this e-mail were not read; "
                "the received mail keeps them."
            )
            % {"parts": parsed.omitted_parts, "files": parsed.omitted_attachments},
        )


def _create(parsed, sender, user, related_to=None, proven=True):

    institution, verified = None, False
    if user is not None:
        memberships = list(
            Membership.objects.filter(user=user).select_related("institution__region")[:2]
        )
        if len(memberships) == 1:
            institution, verified = memberships[0].institution, True
    text, quoted = _body(parsed)
    files, rejected = _attachments(parsed)
    no_acknowledgement = _acknowledgement(parsed, sender, proven)
    ticket = actions.file_from_mail(
        sender=user,
        notify=not no_acknowledgement,
        subject=_new_subject(parsed),
        text=text,
        quoted_text=quoted,
        html=_html(parsed),
        html_is_clean=True,
        files=files,
        rejected_files=rejected,
        requester_email=sender,
        requester_name=_name(parsed),
        email_message_id=parsed.message_id[:255],
        institution=institution,
        institution_verified=verified,
        related_to=related_to,
        mail_notes=[no_acknowledgement] if no_acknowledgement else [],
    )
    _note_omitted(ticket, parsed)
    _note_copied(ticket, parsed, sender)
    return ticket


def _note_copied(ticket, parsed: ParsedMail, sender: str) -> None:
    """Record who the mail was copied to, besides those already on the request.

    Copies are never added to a ticket by e-mail alone (anyone could copy
    anyone); the agent sees who was copied and may add them in one click.
    """
    own = own_addresses()
    skip = {sender, ticket.requester_email.lower()}
    copied = [c for c in dict.fromkeys(a.lower() for a in parsed.cc) if c not in own]
    copied = [c for c in copied if c not in skip]
    if copied:  # most mail is copied to no one: no need to read the watchers
        watching = _watcher_addresses(ticket)
        copied = [c for c in copied if c not in watching]
    if copied:
        events.mail_copied(
            ticket,
            addresses=copied[:20],
            note=_("The e-mail was copied to: %(cc)s (not added to the request).")
            % {"cc": ", ".join(copied[:20])},
        )


# --- content -------------------------------------------------------------------------

_TAG_IN_SUBJECT = re.compile(r"\[?\s*HD\s*(?:#|№)\s*\d{2}\s*-\s*\d{6,}\s*\]?", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Return text the database accepts: no NUL or other controls, no lone surrogates."""
    text = text or ""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Undecodable header bytes arrive as surrogate escapes.
            try:
                text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:
                text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def _sanitise(parsed: ParsedMail) -> ParsedMail:
    """Clean every string of `parsed` that may reach the database, in place; return it."""
    for name in (
        "message_id",
        "in_reply_to",
        "from_addr",
        "from_name",
        "reply_to",
        "subject",
        "text",
        "quoted",
        "full_text",
        "html",
        "bounce_original_message_id",
    ):
        setattr(parsed, name, _clean(getattr(parsed, name)))
    for name in ("references", "to", "cc", "bounce_recipients"):
        setattr(parsed, name, [_clean(value) for value in getattr(parsed, name)])
    for attachment in parsed.attachments:
        attachment.filename = _clean(attachment.filename)
        attachment.content_id = _clean(attachment.content_id)
    return parsed


def _new_subject(parsed: ParsedMail) -> str:
    subject = _TAG_IN_SUBJECT.sub(" ", _clean(parsed.subject))
    subject = " ".join(strip_reply_prefixes(subject).split())
    return subject[:200] or _("(no subject)")


def _name(parsed: ParsedMail) -> str:
    return " ".join(_clean(parsed.from_name).split())[:150]


def _body(parsed: ParsedMail) -> tuple[str, str]:
    """Return (new text, quoted earlier text), within the helpdesk's text limit."""
    text, quoted = _clean(parsed.text).strip(), _clean(parsed.quoted).strip()
    if not text:
        # Everything looked quoted: show it all rather than nothing.
        text, quoted = _clean(parsed.full_text).strip(), ""
    if not text:
        text = _("(The e-mail had no text.)")
    limit = settings.HELPDESK["MAX_TEXT_CHARS"]
    if len(text) > limit:
        note = "\n\n" + _("[… shortened; the whole e-mail is kept with the received mail]")
        text = text[: limit - len(note)] + note
    return text, quoted[: limit * 5]


def _html(parsed: ParsedMail) -> str:
    """The mail's HTML as the parser sanitised it (once, in bounded time)."""
    html = _clean(parsed.safe_html)
    return html if len(html) <= MAX_HTML_CHARS else ""


def _attachments(parsed: ParsedMail):
    """Return (checked files, [(name, reason)] rejected) under the portal's rules."""

    rules = settings.HELPDESK
    files, rejected, total = [], [], 0
    for attachment in parsed.attachments:
        name = _clean(attachment.filename) or "file"
        try:
            checked = check_file(name, attachment.payload, allowed=MAIL_TYPES)
        except UploadRejected as error:
            rejected.append((error.name or name, error.reason))
            continue
        if len(files) >= rules["MAX_FILES"]:
            rejected.append(
                (checked.name, _("more than %(n)s files in one e-mail") % {"n": rules["MAX_FILES"]})
            )
            continue
        if total + checked.size > rules["MAX_REQUEST_BYTES"]:
            limit = rules["MAX_REQUEST_BYTES"] // (1024 * 1024)
            rejected.append(
                (checked.name, _("all files together exceed %(mb)s MB") % {"mb": limit})
            )
            continue
        total += checked.size
        checked.content_id = _clean(attachment.content_id)[:255]
        checked.inline = bool(attachment.inline)
        files.append(checked)
    return files, rejected
