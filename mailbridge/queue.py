"""The work queue of received mail: stored rows, processed in order per conversation.

The IMAP poller only stores: ``store_batch`` inserts a batch of raw messages
as "received" rows in one transaction (the unique keys make a message seen
again a no-op, as before) and gives each row two ordering keys, worked out
from its headers alone:

* ``conversation``: the conversation of the closest message it answers that
  is stored already (In-Reply-To, then References, nearest first), else the
  root its References name, else its own Message-ID. A reply to a stored
  request therefore shares the request's key, whatever the chain between
  them; ticket tags in subjects are not used (they are easy to guess, and the
  request a tag names exists already, so no order is needed for it);
* ``sender``: the From address.

Processing (``drain``, run by celery workers, or in the poller itself on
SQLite and with eager celery) claims rows with ``SELECT … FOR UPDATE SKIP
LOCKED``, taking only the *heads*: received rows with no earlier received row
of the same conversation or the same sender. So a reply is never processed
before the request it answers, and a flood from one address occupies one
worker at a time while every other conversation goes ahead. A claim is a
short committed lease (``claimed_by``, ``claimed_until``), counted in
``attempts``; the row is then processed in its own transaction, which marks
it done only if it is still unfinished (ingest._finish), so a message is
applied exactly once even when a lease runs out or two workers race.

A claim whose worker died is taken over when its lease runs out, at once when
the process was on this host; the periodic sweep (tasks.process_received in
beat) picks up rows whose task was lost. A row claimed MAX_ATTEMPTS times
without finishing is quarantined and stops holding its conversation back.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mailbridge import ingest
from mailbridge.ingest import key_for_message_id
from mailbridge.models import InboundMessage, Mailbox
from mailbridge.parsing import parse_headers

log = logging.getLogger(__name__)

RECEIVED = InboundMessage.State.RECEIVED
# Rows claimed at once by one worker. One: a claim counts as an attempt, and
# a worker killed by one message must not count attempts against others it
# had claimed but not begun (they would be quarantined with it); and a head
# not yet begun is better left to another worker.
CLAIM_ROWS = 1
# Heads looked for beyond those a claim takes: it skips those being claimed,
# and the next claims of the same drain try the rest first.
HEADS = 8
# Received rows read at a time while looking for heads (doubling up to MAX_WINDOW).
WINDOW = 50
MAX_WINDOW = 1000
# How long a claim holds before another worker may take the row over.
CLAIM_SECONDS = 120
# One processing task for this many newly stored rows (at most MAX_TASKS a batch).
ROWS_PER_TASK = 10
MAX_TASKS = 20

_hostname = socket.gethostname()
# Tokens of the drains running in this process (tells our own dead claims apart).
_live_tokens: set[str] = set()


# --- holders -------------------------------------------------------------------------


def new_holder() -> tuple[str, str]:
    """Return (holder, token): who claims, as host:pid:token."""
    token = uuid.uuid4().hex[:12]
    return f"{_hostname}:{os.getpid()}:{token}", token


def holder_is_dead(holder: str, live_tokens: set[str]) -> bool:
    """Whether `holder` (host:pid:token) was a process of this host that has ended.

    In this very process, a token no longer in `live_tokens` has ended too.
    A holder on another host is never judged dead here (its lease runs out).
    """
    host, _sep, rest = holder.partition(":")
    pid_text, _sep, token = rest.partition(":")
    if host != _hostname or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return token not in live_tokens
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --- storing -------------------------------------------------------------------------


@dataclass
class Prepared:
    """A raw message ready to store, with its keys."""

    uid: int | None
    raw: bytes
    key: str
    message_id: str
    digest: str
    sender: str
    thread: list[str]


def prepare(raw: bytes, uid: int | None = None) -> Prepared:
    raw = bytes(raw)
    key, message_id, digest = ingest.message_key(raw)
    head = parse_headers(raw)
    sender = ingest._clean(head.from_addr.lower()).strip()[:254]
    head.in_reply_to = ingest._clean(head.in_reply_to)
    head.references = [ingest._clean(value) for value in head.references]
    return Prepared(uid, raw, key, message_id, digest, sender, ingest._thread_ids(head))


def _conversation(item: Prepared, known: dict[str, str]) -> str:
    """The conversation key of `item`, given the keys of stored messages by message_key."""
    for mail_id in item.thread:
        found = known.get(key_for_message_id(mail_id))
        if found:  # rows stored before conversations existed have none
            return found
    # thread lists the closest first; the root of the References is the last.
    root = item.thread[-1] if item.thread else ""
    if root:
        return key_for_message_id(root)[:255]
    return item.key[:255]


@dataclass
class Stored:
    """What storing one message gave: its row, and an outcome if it needs no processing."""

    uid: int | None
    row_id: int | None
    outcome: ingest.Outcome | None = None  # None: the row waits to be processed
    fresh: bool = False  # stored by this call

    @property
    def pending(self) -> bool:
        return self.row_id is not None and self.outcome is None


def store_batch(
    items: list[Prepared],
    *,
    mailbox: Mailbox | None = None,
    uidvalidity: int | None = None,
    attempts: int = 0,
    claim_by: str = "",
) -> list[Stored]:
    """Store the messages as received rows in one transaction; return one Stored each, in order.

    A message stored before (same Message-ID or bytes, or the same UID) is not
    stored again: a finished one gets its duplicate outcome, an unfinished
    one is pending like a new one. Three queries for the whole batch.
    """
    if not items:
        return []
    lookup = {item.key for item in items}
    lookup.update(key_for_message_id(i) for item in items for i in item.thread)
    existing = {
        values[0]: values
        for values in InboundMessage.objects.filter(message_key__in=lookup)
        .order_by()
        .values_list(
            "message_key", "pk", "state", "outcome", "reason", "ticket__reference", "conversation"
        )
    }
    known = {key: values[-1] for key, values in existing.items()}
    until = timezone.now() + datetime.timedelta(seconds=CLAIM_SECONDS) if claim_by else None
    new: dict[str, InboundMessage] = {}
    for item in items:
        if item.key in existing or item.key in new:
            continue
        conversation = _conversation(item, known)
        known[item.key] = conversation
        new[item.key] = InboundMessage(
            mailbox=mailbox,
            uidvalidity=uidvalidity if item.uid is not None else None,
            uid=item.uid,
            message_key=item.key,
            message_id=item.message_id,
            raw=item.raw,
            raw_size=len(item.raw),
            raw_digest=item.digest,
            sender=item.sender,
            conversation=conversation,
            attempts=attempts,
            claimed_by=claim_by,
            claimed_until=until,
        )
    stored: dict[str, int] = {}
    if new:
        with transaction.atomic():
            InboundMessage.objects.bulk_create(list(new.values()), ignore_conflicts=True)
        # A row another poller stored first (an ignored conflict) is found here too.
        stored = dict(
            InboundMessage.objects.filter(message_key__in=list(new))
            .order_by()
            .values_list("message_key", "pk")
        )
    out: list[Stored] = []
    seen: set[str] = set()
    for item in items:
        values = existing.get(item.key)
        if values is not None:
            _key, pk, state, outcome, reason, reference, _conv = values
            if state == RECEIVED:
                out.append(Stored(item.uid, pk))
            else:
                finished = ingest.finished_outcome(pk, state, outcome, reason, reference)
                out.append(Stored(item.uid, pk, finished))
        elif item.key not in stored:
            out.append(_stored_by_uid(item, mailbox, uidvalidity))
        elif item.key in seen:  # the same message twice in one batch
            pk = stored[item.key]
            reason = _("Already received (%(state)s).") % {"state": RECEIVED.label}
            out.append(Stored(item.uid, pk, ingest.Outcome(ingest.DUPLICATE, None, reason, pk)))
        else:
            out.append(Stored(item.uid, stored[item.key], fresh=item.key in new))
        seen.add(item.key)
    return out


def _stored_by_uid(item: Prepared, mailbox, uidvalidity) -> Stored:
    """A message whose UID is stored under another key (the server changed its bytes)."""
    row = None
    if mailbox is not None and item.uid is not None:
        row = (
            InboundMessage.objects.defer("raw")
            .select_related("ticket")
            .filter(mailbox=mailbox, uidvalidity=uidvalidity, uid=item.uid)
            .first()
        )
    if row is None:
        raise RuntimeError("inbound message key conflict without a stored row")
    if row.state == RECEIVED:
        return Stored(item.uid, row.pk)
    return Stored(item.uid, row.pk, ingest._finished_outcome(row))


# --- claiming and processing ---------------------------------------------------------


def _todo():
    return InboundMessage.objects.filter(state=RECEIVED)


def head_ids(now=None, limit: int = HEADS) -> list[int]:
    """Ids of up to `limit` claimable heads, oldest first.

    A head is a received row, not claimed by anyone, with no earlier received
    row of the same conversation or the same sender. The received rows are
    read in id order, a window at a time (three short columns from the
    partial index of received rows), until enough heads are found: the cost
    follows the length of the queue, whatever the planner's statistics say
    about a table whose received rows come and go in bursts.
    """
    now = now or timezone.now()
    conversations: set[str] = set()
    senders: set[str] = set()
    found: list[int] = []
    after, size = 0, WINDOW
    while True:
        window = list(
            _todo()
            .filter(pk__gt=after)
            .order_by("pk")
            .values_list("pk", "conversation", "sender", "claimed_until")[:size]
        )
        for pk, conversation, sender, claimed_until in window:
            blocked = conversation in conversations or (sender and sender in senders)
            conversations.add(conversation)
            if sender:
                senders.add(sender)
            if not blocked and (claimed_until is None or claimed_until < now):
                found.append(pk)
                if len(found) >= limit:
                    return found
        if len(window) < size:
            return found
        after, size = window[-1][0], min(size * 2, MAX_WINDOW)


def claim(
    holder: str, limit: int = CLAIM_ROWS, known: list[int] | None = None
) -> list[InboundMessage]:
    """Claim up to `limit` head rows for `holder`, oldest first; return them (with raw).

    Of the first few heads, the oldest that no other worker is claiming at
    this moment is claimed by a committed lease, in one statement: an UPDATE
    of the rows a ``SELECT … FOR UPDATE SKIP LOCKED`` picks, RETURNING them.
    SQLite has neither FOR UPDATE nor a second writer: there the statement's
    own conditions decide.

    `known` (a drain's list, updated here) keeps the heads found last time
    that were not taken: a head stays a head until it is processed (rows
    leave the queue, and new ones join it behind), so the next claim tries
    them before reading the queue again. One or two queries.
    """
    for _round in range(3):
        now = timezone.now()
        candidates = list(known) if known else head_ids(now, limit + HEADS)
        if not candidates:
            return []
        until = now + datetime.timedelta(seconds=CLAIM_SECONDS)
        rows = list(InboundMessage.objects.raw(*_claim_sql(holder, until, now, candidates, limit)))
        if known is not None:
            # Those before the last one taken were taken by others (or are ours now).
            last = max((row.pk for row in rows), default=None)
            known[:] = [pk for pk in candidates if last is not None and pk > last]
        if rows:
            return sorted(rows, key=lambda row: row.pk)
        # All of them claimed by others meanwhile: look again.
    return []


def _claim_sql(holder, until, now, candidates, limit) -> tuple[str, list]:
    quote = connection.ops.quote_name
    table = quote(InboundMessage._meta.db_table)
    ops = connection.ops
    free = (
        f"{quote('state')} = %s AND ({quote('claimed_until')} IS NULL"
        f" OR {quote('claimed_until')} < %s)"
    )
    marks = ", ".join(["%s"] * len(candidates))
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    now_value = ops.adapt_datetimefield_value(now)
    sql = (
        f"UPDATE {table} SET {quote('claimed_by')} = %s, {quote('claimed_until')} = %s,"
        f" {quote('attempts')} = {quote('attempts')} + 1"
        f" WHERE {free} AND {quote('id')} IN ("
        f"SELECT {quote('id')} FROM {table} WHERE {free} AND {quote('id')} IN ({marks})"
        f" ORDER BY {quote('id')} LIMIT %s{lock})"
        f" RETURNING *"
    )
    params = [holder, ops.adapt_datetimefield_value(until), RECEIVED.value, now_value]
    params += [RECEIVED.value, now_value, *candidates, limit]
    return sql, params


def release_dead_claims() -> int:
    """Free the claims of drains that ended on this host (killed, or gone in this process)."""
    now = timezone.now()
    claimed = _todo().filter(claimed_until__gt=now)
    holders = set(claimed.order_by().values_list("claimed_by", flat=True).distinct())
    dead = [holder for holder in holders if holder_is_dead(holder, _live_tokens)]
    if not dead:
        return 0
    freed = claimed.filter(claimed_by__in=dead).update(claimed_until=None)
    log.info("mailbridge: took over %s received mails whose worker has ended", freed)
    return freed


def process_claimed(row: InboundMessage) -> ingest.Outcome:
    """Process one claimed row; return its Outcome. Raises only ingest.TRANSIENT_ERRORS."""
    if row.attempts > ingest.MAX_ATTEMPTS:
        return ingest._quarantine(
            row,
            None,
            _("Processing did not finish after %(n)s attempts.") % {"n": ingest.MAX_ATTEMPTS},
        )
    return ingest._run(row, bytes(row.raw))


@dataclass
class Drained:
    outcomes: dict[int, ingest.Outcome] = field(default_factory=dict)
    more: bool = False  # stopped at a limit with work left


def drain(
    *,
    max_rows: int | None = None,
    max_seconds: float | None = None,
    into: Drained | None = None,
    tick=None,
) -> Drained:
    """Claim and process head rows until none is left (or a limit); return the outcomes.

    `into` receives the outcomes as they come, so a caller still has them
    when a database error ends the drain (the error is raised; the rows left
    keep their state and this drain's claims are let go). `tick` is called
    between claims (the poller renews its mailbox lease there).
    """
    result = into if into is not None else Drained()
    release_dead_claims()
    holder, token = new_holder()
    _live_tokens.add(token)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    done = 0
    known: list[int] = []
    try:
        while True:
            if (max_rows is not None and done >= max_rows) or (
                deadline is not None and time.monotonic() > deadline
            ):
                result.more = bool(head_ids(limit=1))
                return result
            if tick is not None:
                tick()
            limit = CLAIM_ROWS if max_rows is None else min(CLAIM_ROWS, max_rows - done)
            rows = claim(holder, limit, known)
            if not rows:
                return result
            for row in rows:
                result.outcomes[row.pk] = process_claimed(row)
                done += 1
    except ingest.TRANSIENT_ERRORS:
        _let_go(holder)
        raise
    finally:
        _live_tokens.discard(token)


def _let_go(holder: str) -> None:
    try:
        _todo().filter(claimed_by=holder).update(claimed_until=None)
    except ingest.TRANSIENT_ERRORS:
        pass  # the database is away; the claims run out, or count as ended here


# --- handing over --------------------------------------------------------------------


def in_workers() -> bool:
    """Whether received rows go to celery workers (else the poller processes them itself).

    On SQLite (the embedded default: one process, one writer, no SKIP
    LOCKED) and with eager celery (tests, the crash test) the poller works
    through them itself, in the same order.
    """
    # Imported here: the celery app reads the Django settings when it is created.
    from helpdesk.celery import app

    return connection.vendor != "sqlite" and not app.conf.task_always_eager


def dispatch(count: int) -> int:
    """Send processing tasks for `count` newly stored rows; return how many were sent.

    Each task drains the queue, so a few are enough to get every worker
    going. A broker that is down is logged: the beat sweep processes the rows.
    """
    # Imported here: mailbridge.tasks imports this module (its task drains the queue).
    from mailbridge.tasks import process_received

    tasks = min(MAX_TASKS, max(1, math.ceil(count / ROWS_PER_TASK)))
    sent = 0
    try:
        for _i in range(tasks):
            process_received.delay()
            sent += 1
    except Exception as error:  # the rows are stored; the sweep takes them
        log.warning("mailbridge: could not hand received mail to the workers: %s", error)
    return sent


def pending_count() -> int:
    return _todo().count()
