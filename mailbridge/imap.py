"""The IMAP door: read a mailbox by UID, store each message, hand it on, move it away.

One pass: select the inbox, list the UIDs still there (processed mail is
moved out, so the inbox holds only what is left to do), fetch them in batches
with BODY.PEEK[] (nothing is marked as read), store the batch as received
rows in one transaction (mailbridge.queue.store_batch), and once that has
committed hand the rows to the celery workers and MOVE the batch to the
processed folder (COPY + \\Deleted + EXPUNGE where the server has no MOVE).
Where the poller processes the rows itself (SQLite, eager celery) it does so
before the move, and quarantined mail goes to the failed folder. A crash
anywhere leaves the message in the inbox and the next pass finds it stored
already: a no-op (or, if it is still unprocessed, processing), then the move.

Between passes the poller waits with IDLE where the server offers it, or
sleeps for the mailbox's poll interval. Errors reconnect with a growing
back-off. A lease on the Mailbox row makes sure two pollers never work one
mailbox at once.
"""

from __future__ import annotations

import datetime
import logging
import os
import random
import socket
import ssl
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailbridge import queue
from mailbridge.ingest import QUARANTINED, TRANSIENT_ERRORS
from mailbridge.models import Mailbox

log = logging.getLogger(__name__)

LEASE_SECONDS = 120
BATCH_MESSAGES = 100
BATCH_BYTES = 32 * 1024 * 1024
IDLE_SECONDS = 300  # re-issue IDLE this often; servers drop idle clients after 30 min
MAX_BACKOFF = 300
DELETED = b"\\Deleted"

# Tokens of the pollers alive in this process, to tell our own stale leases
# from those of a thread that still runs.
_live_tokens: set[str] = set()
_hostname = socket.gethostname()


@dataclass
class PassResult:
    """What one pass over a mailbox did."""

    mailbox: str
    state: str = "ok"  # ok | busy | error
    found: int = 0
    outcomes: Counter = field(default_factory=Counter)
    moved: int = 0
    failed: int = 0
    error: str = ""

    def as_dict(self) -> dict:
        return {
            "mailbox": self.mailbox,
            "state": self.state,
            "found": self.found,
            "outcomes": dict(self.outcomes),
            "moved": self.moved,
            "failed": self.failed,
            "error": self.error,
        }


def connect(mailbox: Mailbox, timeout: float = 30.0) -> IMAPClient:
    """Return an IMAPClient logged in to `mailbox` (TLS as configured)."""
    context = ssl.create_default_context(cafile=mailbox.ca_file or None)
    if mailbox.security == Mailbox.Security.SSL:
        client = IMAPClient(
            mailbox.host, mailbox.port, ssl=True, ssl_context=context, timeout=timeout
        )
    else:
        client = IMAPClient(mailbox.host, mailbox.port, ssl=False, timeout=timeout)
        if mailbox.security == Mailbox.Security.STARTTLS:
            client.starttls(context)
    try:
        client.login(mailbox.username, mailbox.get_password())
    except Exception:
        _quietly(client.logout)
        raise
    return client


# --- the lease -----------------------------------------------------------------------


def acquire_lease(mailbox: Mailbox, holder: str, seconds: int = LEASE_SECONDS) -> bool:
    """Take (or extend) the lease on the mailbox; False if another poller holds it.

    A lease held by a process of this host that no longer exists is taken
    over at once; any other expires after `seconds`.
    """
    now = timezone.now()
    until = now + datetime.timedelta(seconds=seconds)
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=holder)
    if Mailbox.objects.filter(free, pk=mailbox.pk).update(locked_by=holder, locked_until=until):
        return True
    current = Mailbox.objects.filter(pk=mailbox.pk).values_list("locked_by", flat=True).first()
    if current and _holder_is_dead(current):
        log.info("mailbox %s: taking over the lease of %s, which has ended", mailbox.name, current)
        return bool(
            Mailbox.objects.filter(pk=mailbox.pk, locked_by=current).update(
                locked_by=holder, locked_until=until
            )
        )
    return False


def release_lease(mailbox: Mailbox, holder: str) -> None:
    Mailbox.objects.filter(pk=mailbox.pk, locked_by=holder).update(locked_by="", locked_until=None)


def _holder_is_dead(holder: str) -> bool:
    return queue.holder_is_dead(holder, _live_tokens)


# --- the poller ----------------------------------------------------------------------


class MailboxPoller:
    """Works one mailbox: run_once() for one pass, run_forever() until stopped."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        stop: threading.Event | None = None,
        batch_messages: int = BATCH_MESSAGES,
        batch_bytes: int = BATCH_BYTES,
        lease_seconds: int = LEASE_SECONDS,
        idle_seconds: int = IDLE_SECONDS,
        use_move: bool | None = None,
        connect_timeout: float = 30.0,
    ):
        self.mailbox = mailbox
        self.stop = stop or threading.Event()
        self.batch_messages = batch_messages
        self.batch_bytes = batch_bytes
        self.lease_seconds = lease_seconds
        self.idle_seconds = idle_seconds
        self.use_move = use_move
        self.connect_timeout = connect_timeout
        self.token = uuid.uuid4().hex[:12]
        self.holder = f"{_hostname}:{os.getpid()}:{self.token}"
        self.client: IMAPClient | None = None
        self._capabilities: set[bytes] = set()
        self._lease_renewed = 0.0

    # -- lifecycle

    def run_once(self) -> PassResult:
        """Take the lease, make one pass, let go; return what it did (never raises)."""
        _fresh_connection()
        result = PassResult(self.mailbox.name)
        _live_tokens.add(self.token)
        try:
            if not acquire_lease(self.mailbox, self.holder, self.lease_seconds):
                result.state = "busy"
                self._record(result)
                return result
            self._lease_renewed = time.monotonic()
            try:
                self._connect()
                self.poll(result)
            finally:
                self.disconnect()
                release_lease(self.mailbox, self.holder)
        except Exception as error:
            self._failed(result, error)
        finally:
            _live_tokens.discard(self.token)
        self._record(result)
        return result

    def run_forever(self) -> None:
        """Poll, wait for new mail (IDLE or sleep), poll again, until `stop` is set."""
        backoff = 1.0
        _live_tokens.add(self.token)
        try:
            while not self.stop.is_set():
                _fresh_connection()
                result = PassResult(self.mailbox.name)
                try:
                    if not self._still_active():
                        log.info("mailbox %s: switched off; poller ends", self.mailbox.name)
                        return
                    if not acquire_lease(self.mailbox, self.holder, self.lease_seconds):
                        result.state = "busy"
                        self._record(result)
                        self.stop.wait(min(self.lease_seconds / 2, 30))
                        continue
                    self._lease_renewed = time.monotonic()
                    if self.client is None:
                        self._connect()
                    self.poll(result)
                    self._record(result)
                    backoff = 1.0
                    self._wait_for_mail()
                except Exception as error:
                    self._failed(result, error)
                    self._record(result)
                    self.disconnect()
                    if isinstance(error, TRANSIENT_ERRORS):
                        _fresh_connection()
                    delay = backoff * (1 + random.random() / 2)
                    log.warning("mailbox %s: retrying in %.0f s", self.mailbox.name, delay)
                    self.stop.wait(delay)
                    backoff = min(backoff * 2, MAX_BACKOFF)
        finally:
            self.disconnect()
            _quietly(release_lease, self.mailbox, self.holder)
            _live_tokens.discard(self.token)

    def _still_active(self) -> bool:
        # Picks up changes made in the admin (folders, password) at every pass.
        fresh = Mailbox.objects.filter(pk=self.mailbox.pk).first()
        if fresh is None or not fresh.is_active:
            return False
        self.mailbox = fresh
        return True

    def disconnect(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _quietly(client.logout)

    # -- one pass

    def poll(self, result: PassResult) -> PassResult:
        """Process every message in the inbox; the caller holds the lease and a connection."""
        client = self.client
        box = self.mailbox
        info = client.select_folder(box.inbox_folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        uids = sorted(client.search(["NOT", "DELETED"]))
        result.found = len(uids)
        if not uids:
            return result
        log.info("mailbox %s: %s message(s) waiting", box.name, len(uids))
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        for batch in self._batches(uids, sizes):
            if self.stop.is_set():
                break
            self._renew_lease(force=True)
            self._process_batch(batch, uidvalidity, result)
        log.info(
            "mailbox %s: %s message(s): %s",
            box.name,
            result.found,
            ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "none",
        )
        return result

    def _batches(self, uids, sizes):
        batch, batch_size = [], 0
        for uid in uids:
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0) or 0)
            if batch and (
                len(batch) >= self.batch_messages or batch_size + size > self.batch_bytes
            ):
                yield batch
                batch, batch_size = [], 0
            batch.append(uid)
            batch_size += size
        if batch:
            yield batch

    def _process_batch(self, batch, uidvalidity, result: PassResult) -> None:
        client = self.client
        box = self.mailbox
        data = client.fetch(batch, ["BODY.PEEK[]"])
        items, failed = [], []
        for uid in batch:
            raw = data.get(uid, {}).get(b"BODY[]")
            if raw is None:
                continue  # expunged by someone else meanwhile
            try:
                items.append(queue.prepare(raw, uid))
            except Exception:
                log.exception("mailbox %s: UID %s could not be read", box.name, uid)
                failed.append(uid)
                result.outcomes["unstored"] += 1
        self._renew_lease()
        stored = self._store(items, uidvalidity, failed, result)
        in_workers = queue.in_workers()
        waiting = [s for s in stored if s.pending]
        if in_workers:
            # Committed: the workers may start while the batch is moved.
            queue.dispatch(len(waiting))
        drained = queue.Drained()
        error = None
        if waiting and not in_workers:
            try:
                queue.drain(into=drained, tick=self._renew_lease)
            except TRANSIENT_ERRORS as exc:
                error = exc  # the database is away: move only what is finished
        done = []
        for item in stored:
            outcome = item.outcome or drained.outcomes.get(item.row_id)
            if outcome is None:
                if error is not None:
                    continue  # stays in the inbox; the next pass finds it stored
                # Stored; a worker processes it (or did it, or is on it).
                result.outcomes["received"] += 1
                done.append(item.uid)
                continue
            result.outcomes[outcome.outcome] += 1
            (failed if outcome.outcome == QUARANTINED else done).append(item.uid)
        # Every row is committed; now the messages may leave.
        self._move(done, box.processed_folder)
        self._move(failed, box.failed_folder)
        result.moved += len(done)
        result.failed += len(failed)
        if error is not None:
            raise error

    def _store(self, items, uidvalidity, failed, result: PassResult):
        """Store the batch in one go; if that fails for a reason of the mail, one by one."""
        box = self.mailbox
        try:
            return queue.store_batch(items, mailbox=box, uidvalidity=uidvalidity)
        except TRANSIENT_ERRORS:
            raise  # the database is away: all of it stays in the inbox
        except Exception:
            log.warning("mailbox %s: the batch could not be stored at once", box.name)
        stored = []
        for item in items:
            try:
                stored.extend(queue.store_batch([item], mailbox=box, uidvalidity=uidvalidity))
            except TRANSIENT_ERRORS:
                raise
            except Exception:
                # Not even storing worked; the failed folder keeps the message.
                log.exception("mailbox %s: UID %s could not be stored", box.name, item.uid)
                failed.append(item.uid)
                result.outcomes["unstored"] += 1
        return stored

    def _move(self, uids, folder) -> None:
        if not uids:
            return
        client = self.client
        use_move = self.use_move if self.use_move is not None else b"MOVE" in self._capabilities
        if use_move:
            client.move(uids, folder)
            return
        client.copy(uids, folder)
        client.add_flags(uids, [DELETED], silent=True)
        if b"UIDPLUS" in self._capabilities:
            client.uid_expunge(uids)
        else:
            client.expunge()

    # -- connection and waiting

    def _connect(self) -> None:
        self.client = connect(self.mailbox, timeout=self.connect_timeout)
        self._capabilities = set(self.client.capabilities())
        for folder in (self.mailbox.processed_folder, self.mailbox.failed_folder):
            if not self.client.folder_exists(folder):
                try:
                    self.client.create_folder(folder)
                except IMAPClientError:
                    # Another poller may have created it a moment ago.
                    if not self.client.folder_exists(folder):
                        raise
                log.info("mailbox %s: created folder %s", self.mailbox.name, folder)

    def _wait_for_mail(self) -> None:
        """Return when new mail may have arrived, after a while, or when stopped."""
        client = self.client
        deadline = time.monotonic() + (
            self.idle_seconds if self._can_idle() else self.mailbox.poll_seconds
        )
        if not self._can_idle():
            while not self.stop.is_set() and time.monotonic() < deadline:
                self._renew_lease()
                self.stop.wait(min(5.0, max(0.0, deadline - time.monotonic())))
            return
        client.idle()
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                responses = client.idle_check(timeout=min(5.0, self.lease_seconds / 4))
                self._renew_lease()
                if any(_announces_mail(r) for r in responses):
                    return
        finally:
            client.idle_done()

    def _can_idle(self) -> bool:
        return self.mailbox.use_idle and b"IDLE" in self._capabilities

    def _renew_lease(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._lease_renewed < self.lease_seconds / 4:
            return
        if not acquire_lease(self.mailbox, self.holder, self.lease_seconds):
            raise RuntimeError("another poller took over the mailbox lease")
        self._lease_renewed = time.monotonic()

    # -- bookkeeping

    def _failed(self, result: PassResult, error: Exception) -> None:
        result.state = "error"
        result.error = f"{type(error).__name__}: {error}"[:2000]
        log.warning("mailbox %s: %s", self.mailbox.name, result.error)

    def _record(self, result: PassResult) -> None:
        try:
            now = timezone.now()
            fields = {"last_poll_at": now, "last_state": result.state, "last_error": result.error}
            if result.state == "ok":
                fields["last_success_at"] = now
            Mailbox.objects.filter(pk=self.mailbox.pk).update(**fields)
        except TRANSIENT_ERRORS:
            _fresh_connection()


def _fresh_connection() -> None:
    """Drop a database connection that broke or grew old, as Django does between requests.

    Not inside a transaction (the admin's "fetch now" or a test), where the
    connection is the caller's.
    """
    if not connection.in_atomic_block:
        close_old_connections()


def _announces_mail(response) -> bool:
    return len(response) >= 2 and response[1] in (b"EXISTS", b"RECENT") and response[0]


def _quietly(function, *args):
    try:
        function(*args)
    except Exception:  # best effort while closing
        pass


def poll_once(mailbox: Mailbox, **options) -> PassResult:
    """Make one pass over `mailbox` (skipped if another poller holds it); return the result."""
    return MailboxPoller(mailbox, **options).run_once()


def poll_all_once(**options) -> list[PassResult]:
    """Make one pass over every active mailbox; return the results."""
    return [poll_once(box, **options) for box in Mailbox.objects.filter(is_active=True)]
