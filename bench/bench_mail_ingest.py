"""Mail ingestion throughput: messages per second from a real IMAP server into tickets.

A private Dovecot (the one the tests use) gets N messages by APPEND: two new
requests from different senders, then a reply to the second, and so on. One
poller pass (mailbridge.imap.MailboxPoller.run_once) then fetches them in
batches with BODY.PEEK[], stores each raw message, parses, classifies,
creates the ticket or adds the follow-up, and moves the batch to Processed.
A second figure: the same messages delivered again (new UIDs, same
Message-IDs), which must all be no-op duplicates.

Acknowledgements are queued for the celery worker (in memory here), as in
production; sending them is not part of ingestion. Needs root (Dovecot).

With --workers N (PostgreSQL + Redis) the poller only stores and hands over,
as in production: N celery worker processes (bench/mail_worker.py, on a
queue of their own) process the rows in parallel, in order per conversation,
and the figure runs from the first fetch to the last row processed. CPU time
and queries are summed over the poller and the workers (PostgreSQL's own CPU
is not included).

    python bench/bench_mail_ingest.py [-n 600] [--sqlite | --workers [N]]
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, setup_django, write_section

TARGET = 100


def build_messages(n: int, domains: list[str]) -> list[bytes]:
    from django.utils import timezone

    messages, ids = [], []
    for i in range(n):
        message = EmailMessage()
        message_id = make_msgid(idstring=f"bench{i}", domain="school.example.org")
        if i % 3 == 2:
            parent = i - 1
            message["From"] = f"Учител {parent} <teacher{parent}@{domains[parent % len(domains)]}>"
            message["Subject"] = f"Re: Дневникът не се отваря ({parent})"
            message["In-Reply-To"] = ids[parent]
            message["References"] = ids[parent]
            body = "Опитах отново, пак не става.\n\nНа 28.11.2026 г. Поддръжка написа:\n> Опитайте пак."
        else:
            message["From"] = f"Учител {i} <teacher{i}@{domains[i % len(domains)]}>"
            message["Subject"] = f"Дневникът не се отваря ({i})"
            body = (
                "Здравейте,\nот тази сутрин електронният дневник не се отваря, "
                "излиза грешка при вход. Моля за помощ.\n\nПоздрави,\nУчител"
            )
        message["To"] = "support@helpdesk.example"
        message["Date"] = format_datetime(timezone.now())
        message["Message-ID"] = message_id
        message.set_content(body)
        messages.append(message.as_bytes())
        ids.append(message_id)
    return messages


class QueryCounter:
    """A connection.execute_wrapper that counts the queries run through it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextlib.contextmanager
def timed_services():
    """Measure the time spent inside the ticket actions (file_from_mail, add_message)."""
    from tickets import actions

    spent = {"seconds": 0.0}
    originals = {name: getattr(actions, name) for name in ("file_from_mail", "add_message")}

    def timed(function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - started

        return wrapper

    for name, function in originals.items():
        setattr(actions, name, timed(function))
    try:
        yield spent
    finally:
        for name, function in originals.items():
            setattr(actions, name, function)


def deliver(server, account, messages) -> float:
    client = server.imap_client(account, server.password)
    started = time.perf_counter()
    try:
        for raw in messages:
            client.append("INBOX", raw)
    finally:
        client.logout()
    return time.perf_counter() - started


def setup_embedded() -> None:
    """The embedded default's database (SQLite in WAL mode) in a scratch folder, migrated."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-mail-"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    (scratch / "var").mkdir()
    os.environ["HELPDESK_VAR_DIR"] = str(scratch / "var")
    os.environ.setdefault("HELPDESK_TESTING", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=600, help="messages to ingest")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="?",
        const=2,
        default=0,
        metavar="N",
        help="the poller hands over to N celery worker processes (default 2)",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: the private Dovecot switches to nobody")
    if args.workers and args.sqlite:
        sys.exit("--workers needs PostgreSQL and Redis")
    if args.workers:
        setup_django()
        main_workers(args)
        return
    if args.sqlite:
        setup_embedded()
    else:
        setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Institution, InstitutionDomain
    from helpdesk.celery import app
    from mailbridge import queue
    from mailbridge.imap import MailboxPoller
    from mailbridge.models import Mailbox
    from tests.testservers import start_dovecot

    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.broker_url = "memory://"
    settings.HELPDESK["MAIL_PER_SENDER_HOUR"] = 10**9
    # One process: the poller processes what it stores itself.
    queue.in_workers = lambda: False

    if not Institution.objects.filter(code="2206409").exists():
        call_command("seed_demo", institutions=300, tickets=0, verbosity=0)
    domains = list(InstitutionDomain.objects.values_list("domain", flat=True)[:20])
    domains += ["abv.bg", "gmail.com", "school-unknown.example"]

    counter = QueryCounter()
    server = start_dovecot()
    try:
        account = server.new_user()
        Mailbox.objects.filter(name="bench").delete()
        box = Mailbox.objects.create(
            name="bench",
            address="support@helpdesk.example",
            host=server.host,
            port=server.ssl_port,
            security="ssl",
            ca_file=server.cafile,
            username=account,
            password=server.password,
        )
        messages = build_messages(args.n, domains)
        append_seconds = deliver(server, account, messages)

        load = os.getloadavg()[0]
        cpu_started = cpu_seconds()
        started = time.perf_counter()
        with connection.execute_wrapper(counter), timed_services() as in_services:
            result = MailboxPoller(box).run_once()
        seconds = time.perf_counter() - started
        cpu_ms = (cpu_seconds() - cpu_started) * 1000 / args.n
        if (
            result.state != "ok"
            or result.outcomes.get("created", 0) + result.outcomes.get("followup", 0) != args.n
        ):
            sys.exit(f"ingestion failed: {result.as_dict()}")
        rate = args.n / seconds
        per_message = counter.count / args.n
        bridge_ms = (seconds - in_services["seconds"]) * 1000 / args.n
        services_ms = in_services["seconds"] * 1000 / args.n

        deliver(server, account, messages)
        started = time.perf_counter()
        again = MailboxPoller(box).run_once()
        duplicate_rate = args.n / (time.perf_counter() - started)
        if again.outcomes.get("duplicate") != args.n:
            sys.exit(f"second pass was not all duplicates: {again.as_dict()}")
    finally:
        server.stop()

    engine = "the embedded SQLite (WAL)" if args.sqlite else "PostgreSQL + Redis"
    new, replies = result.outcomes.get("created", 0), result.outcomes.get("followup", 0)
    heading = "Mail ingestion, embedded SQLite" if args.sqlite else "Mail ingestion"
    body = f"""
## {heading}

`python bench/bench_mail_ingest.py -n {args.n}{" --sqlite" if args.sqlite else ""}` — {engine}, private Dovecot over IMAPS on 127.0.0.1, one poller process, {machine()}.
One pass, everything in the poller's process (as on SQLite or with eager celery): fetch in batches of 100 with `BODY.PEEK[]`, store the batch as received rows, parse, classify, create the ticket (routing, SLA) or add the follow-up (in order per conversation), move to Processed. Acknowledgements are queued for the worker, not sent. Load average {load:.1f} when the run began (2 cores, shared).

| measure | value |
|---|---|
| messages ({new} new requests, {replies} replies) | {rate:.0f} messages/s ({1000 / rate:.1f} ms each) |
| of which in the ticket services (create_ticket, add_message: routing, SLA, history) | {services_ms:.1f} ms |
| of which in the bridge and after-commit work (IMAP fetch and move, store, parse, classify, thread, live push) | {bridge_ms:.1f} ms |
| database queries per message (all of it) | {per_message:.1f} |
| CPU per message, the poller's process (not PostgreSQL's) | {cpu_ms:.1f} ms |
| the same messages again (all duplicates) | {duplicate_rate:.0f} messages/s |
| APPEND of the test messages (for scale) | {args.n / append_seconds:.0f} messages/s |

Target: ≥ {TARGET} messages/s{" — met" if rate >= TARGET else " — not met on this machine"}.
"""
    write_section("mail-sqlite" if args.sqlite else "mail", body)


def start_workers(count: int, queue_name: str, scratch: Path) -> list:
    env = {**os.environ, "HELPDESK_MAIL_PER_SENDER_HOUR": str(10**9), "PYTHONPATH": str(ROOT)}
    workers = []
    for n in range(count):
        stats = scratch / f"worker{n}.json"
        log = open(scratch / f"worker{n}.log", "wb")  # closed with the process
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "mail_worker.py"), queue_name, str(stats)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.stats, process.log_file = stats, log
        workers.append(process)
    deadline = time.monotonic() + 120
    while not all(w.stats.exists() for w in workers):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            stop_workers(workers)
            sys.exit(f"the workers did not start; see {scratch}")
        time.sleep(0.2)
    return workers


def stop_workers(workers) -> None:
    for process in workers:
        if process.poll() is None:
            process.terminate()
    for process in workers:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.log_file.close()


def worker_totals(workers) -> dict:
    totals = {"queries": 0, "cpu": 0.0}
    for process in workers:
        data = json.loads(process.stats.read_text())
        totals["queries"] += data["queries"]
        totals["cpu"] += data["cpu"]
    return totals


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main_workers(args) -> None:
    """The poller in this process, N celery workers processing in parallel."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Institution, InstitutionDomain
    from helpdesk.celery import app
    from mailbridge.models import InboundMessage, Mailbox
    from tests.testservers import start_dovecot

    settings.HELPDESK["MAIL_PER_SENDER_HOUR"] = 10**9
    queue_name = f"bench-mail-{uuid.uuid4().hex[:8]}"
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # The poller's tasks go to the benchmark's workers only.
    app.conf.task_routes = {"mailbridge.tasks.process_received": {"queue": queue_name}}

    if not Institution.objects.filter(code="2206409").exists():
        call_command("seed_demo", institutions=300, tickets=0, verbosity=0)
    domains = list(InstitutionDomain.objects.values_list("domain", flat=True)[:20])
    domains += ["abv.bg", "gmail.com", "school-unknown.example"]
    # Rows of an earlier run would be work for the workers, and hold conversations up.
    InboundMessage.objects.filter(state="received").delete()

    from mailbridge.imap import MailboxPoller

    scratch = Path(tempfile.mkdtemp(prefix="bench-mail-workers-"))
    counter = QueryCounter()
    server = start_dovecot()
    workers = []
    try:
        account = server.new_user()
        Mailbox.objects.filter(name="bench").delete()
        box = Mailbox.objects.create(
            name="bench",
            address="support@helpdesk.example",
            host=server.host,
            port=server.ssl_port,
            security="ssl",
            ca_file=server.cafile,
            username=account,
            password=server.password,
        )
        messages = build_messages(args.n, domains)
        deliver(server, account, messages)
        workers = start_workers(args.workers, queue_name, scratch)
        time.sleep(1)  # the workers' start-up work is done
        load = os.getloadavg()[0]
        before = worker_totals(workers)
        first = InboundMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

        cpu_started = cpu_seconds()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            result = MailboxPoller(box).run_once()
        polled = time.perf_counter() - started
        poller_cpu = cpu_seconds() - cpu_started
        poller_queries = counter.count
        mine = InboundMessage.objects.filter(pk__gt=first)
        deadline = time.monotonic() + 600
        while mine.filter(state="received").exists():
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                sys.exit(f"the workers did not finish; see {scratch}")
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        time.sleep(0.5)  # the last task's figures are written after it returns
        after = worker_totals(workers)
        outcomes = Counter(mine.values_list("outcome", flat=True))
        if (
            result.state != "ok"
            or outcomes.get("created", 0) + outcomes.get("followup", 0) != args.n
        ):
            sys.exit(f"ingestion failed: {result.as_dict()} {outcomes}")
    finally:
        stop_workers(workers)
        server.stop()

    rate = args.n / seconds
    worker_cpu = after["cpu"] - before["cpu"]
    worker_queries = after["queries"] - before["queries"]
    cpu_ms = (poller_cpu + worker_cpu) * 1000 / args.n
    queries = (poller_queries + worker_queries) / args.n
    new, replies = outcomes.get("created", 0), outcomes.get("followup", 0)
    body = f"""
## Mail ingestion, poller and {args.workers} workers

`python bench/bench_mail_ingest.py -n {args.n} --workers {args.workers}` — PostgreSQL + Redis, private Dovecot over IMAPS on 127.0.0.1, one poller process and {args.workers} celery worker processes (solo pool), {machine()}.
The poller fetches in batches of 100, stores each batch as received rows in one transaction, hands them to the workers and moves the batch to Processed; the workers claim rows (`FOR UPDATE SKIP LOCKED`, only the first unprocessed row of each conversation and sender) and parse, classify, create the ticket or add the follow-up. Timed from the first fetch to the last row processed. Acknowledgements are queued, not sent. The machine has 2 cores, shared with PostgreSQL, Redis, Dovecot and whatever else runs (load average {load:.1f} when the run began): the figures are noisy.

| measure | value |
|---|---|
| messages ({new} new requests, {replies} replies) | {rate:.0f} messages/s ({1000 / rate:.1f} ms each) |
| the poller alone (fetch, store, hand over, move) | {args.n / polled:.0f} messages/s |
| CPU per message, poller + workers (not PostgreSQL's) | {cpu_ms:.1f} ms (poller {poller_cpu * 1000 / args.n:.1f} ms, workers {worker_cpu * 1000 / args.n:.1f} ms) |
| database queries per message, poller + workers | {queries:.1f} (poller {poller_queries / args.n:.2f}, workers {worker_queries / args.n:.1f}) |

Target: ≥ {TARGET} messages/s{" — met" if rate >= TARGET else " — not met on this machine"}.
"""
    write_section(f"mail-workers-{args.workers}", body)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
