"""The poller is SIGKILLed at random points while it ingests 300 messages.

It runs as a real `manage.py mailbridge_poll` process and is restarted after
each kill. At the end every message must be a ticket or a follow-up exactly
once, and every message must sit in the Processed (or Failed) folder.

The poller processes need a database they can all open, so this test does
not use the test database: on SQLite it migrates a temporary database file,
on PostgreSQL (DATABASE_URL) a temporary database on the same server that is
dropped afterwards. Everything in that database is read back through
`manage.py shell`.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.conf import settings

from tests.mailbridge.test_ingest import make_mail

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = 300
MAX_RUNS = 60
TIME_LIMIT = 600

SETUP = """
from accounts.regions import ensure_regions
from tickets.catalogue import ensure_competences
from mailbridge.models import Mailbox
ensure_regions(); ensure_competences()
Mailbox.objects.create(name="crash", address="support@helpdesk.example", host={host!r},
    port={port}, security="ssl", ca_file={cafile!r}, username={user!r}, password={password!r})
"""

REPORT = """
import json
from collections import Counter
from mailbridge.models import InboundMessage
from tickets.models import Message
rows = list(InboundMessage.objects.values_list("message_id", "state", "outcome", "attempts"))
messages = list(Message.objects.values_list("email_message_id", "ticket_id"))
print(json.dumps({
    "rows": [list(r) for r in rows],
    "messages": [list(m) for m in messages],
}))
"""


@pytest.fixture
def crash_database(tmp_path):
    """Return the DATABASE_URL of a throw-away database the subprocesses share."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        return
    import psycopg

    name = f"hd_crash_{uuid.uuid4().hex[:10]}"
    params = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = params["user"] + (f":{params['password']}" if params["password"] else "")
    try:
        yield f"postgres://{auth}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(**params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env, *args, timeout=300, **kwargs):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def build_messages():
    """300 messages: two new requests, then a reply to the second, and so on."""
    messages, ids = [], []
    for i in range(MESSAGES):
        message_id = make_msgid(idstring=f"crash{i}", domain="school.example.org")
        if i % 3 == 2:
            parent = i - 1
            raw = make_mail(
                sender=f"teacher{parent}@school.example.org",
                subject=f"Re: Заявка {parent}",
                body=f"Допълнение към заявка {parent}.",
                message_id=message_id,
                in_reply_to=ids[parent],
                references=ids[parent],
            )
        else:
            raw = make_mail(
                sender=f"teacher{i}@school.example.org",
                subject=f"Заявка {i}",
                body=f"Текст на заявка {i}.",
                message_id=message_id,
            )
        messages.append(raw)
        ids.append(message_id)
    return messages, [i.strip("<>") for i in ids]


def folder_ids(client, folder):
    """Return the Message-IDs of the messages in `folder` (a list: duplicates show)."""
    if not client.folder_exists(folder):
        return []
    client.select_folder(folder, readonly=True)
    uids = client.search("ALL")
    if not uids:
        return []
    found = []
    for data in client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).values():
        header = next(v for k, v in data.items() if k.startswith(b"BODY[HEADER")).decode()
        found.append(header.split(":", 1)[1].strip().strip("<>"))
    return found


def wait_for_line(path, offset, marker, process, timeout):
    """Wait until `marker` appears in the log after `offset`, or the process ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with open(path, "rb") as log:
            log.seek(offset)
            if marker.encode() in log.read():
                return
        time.sleep(0.05)


def inbox_count(dovecot, account):
    client = dovecot.imap_client(*account)
    try:
        return client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
    finally:
        client.logout()


def test_poller_killed_at_random_points_loses_and_duplicates_nothing(
    dovecot, crash_database, tmp_path
):
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    env = {
        **os.environ,
        "DATABASE_URL": crash_database,
        "HELPDESK_VAR_DIR": str(tmp_path / "var"),
        "HELPDESK_TESTING": "true",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }
    migrated = manage(env, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    account = (dovecot.new_user(), dovecot.password)
    setup = SETUP.format(
        host=dovecot.host,
        port=dovecot.ssl_port,
        cafile=dovecot.cafile,
        user=account[0],
        password=account[1],
    )
    done = manage(env, "shell", "-c", setup)
    assert done.returncode == 0, done.stderr[-3000:]

    messages, ids = build_messages()
    client = dovecot.imap_client(*account)
    try:
        for raw in messages:
            client.append("INBOX", raw)
    finally:
        client.logout()

    started = time.monotonic()
    kills, interrupted, runs, stalled = 0, 0, 0, 0
    log_path = tmp_path / "poller.log"
    left, offset = MESSAGES, 0
    with open(log_path, "ab") as log:
        while left and runs < MAX_RUNS and time.monotonic() - started < TIME_LIMIT:
            runs += 1
            process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "mailbridge_poll",
                    "--mailbox",
                    "crash",
                    "--batch",
                    "25",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
            # Mostly kill while it works (after it announced the waiting
            # messages), now and then while it still starts up.
            if rng.random() < 0.8:
                wait_for_line(log_path, offset, "message(s) waiting", process, timeout=120)
            # A run killed before the head message is done leaves it to the
            # next; on a loaded machine every run could die there, and after
            # MAX_ATTEMPTS the message is quarantined (rightly: it looks like
            # mail that kills its worker). Each run without progress gives
            # the next half a second more.
            try:
                process.wait(timeout=rng.uniform(0.0, 1.0) + 0.5 * stalled)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
            offset = log_path.stat().st_size
            before, left = left, inbox_count(dovecot, account)
            interrupted += 0 < left < before
            stalled = stalled + 1 if left == before else 0
    # Whatever is left, a last clean pass finishes (and proves a re-run is a no-op).
    final = manage(env, "mailbridge_poll", "--once", "--mailbox", "crash")
    assert final.returncode == 0, final.stderr[-3000:]

    context = f"seed={seed} runs={runs} kills={kills} interrupted={interrupted}"
    assert kills >= 3, context
    report = manage(env, "shell", "-c", REPORT)
    assert report.returncode == 0, report.stderr[-3000:]
    data = json.loads(report.stdout.strip().splitlines()[-1])

    rows = data["rows"]
    assert len(rows) == MESSAGES, context
    assert {state for _id, state, _o, _a in rows} == {"processed"}, context
    outcomes = sorted(outcome for _id, _s, outcome, _a in rows)
    assert outcomes.count("created") == 200 and outcomes.count("followup") == 100, context

    # Every message is in the conversation exactly once, replies on their parent's ticket.
    ticket_of = {}
    for message_id, ticket_id in data["messages"]:
        assert message_id not in ticket_of, f"{message_id} stored twice; {context}"
        ticket_of[message_id] = ticket_id
    assert set(ticket_of) == set(ids), context
    for i in range(2, MESSAGES, 3):
        assert ticket_of[ids[i]] == ticket_of[ids[i - 1]], context
    assert len(set(ticket_of.values())) == 200, context

    client = dovecot.imap_client(*account)
    try:
        assert folder_ids(client, "INBOX") == []
        moved = folder_ids(client, "Processed") + folder_ids(client, "Failed")
    finally:
        client.logout()
    assert sorted(moved) == sorted(ids), context
    print(context, f"time={time.monotonic() - started:.0f}s", file=sys.stderr)
