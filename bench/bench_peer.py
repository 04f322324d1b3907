"""Side by side with django-helpdesk 2.6.1, on SQLite, with one command.

    python bench/bench_peer.py [--tickets 100000] [--rounds 3]

The peer's benchmark harness lies in ../shared/anchors/django-helpdesk-bench
(beside the checkout; BENCH_PEER_HARNESS overrides). It is copied, unchanged,
to var/peer/ at run time and called from there; nothing of it lives in this
repository. Everything is made once and kept (var/ is git-ignored):

* var/peer/: the harness, its virtualenv (django-helpdesk 2.6.1, gunicorn,
  requests from PyPI) and its seeded database (its seed.py N), plus a copy
  where 50 tickets carry 10 follow-ups (for the ticket page probe);
* var/peer-ours/seed-N/helpdesk.sqlite3: this project's embedded SQLite
  database (migrated, WAL as the settings configure it) with N generated
  tickets in the shape of bench/bench_console.py's generator (2000
  institutions, 6 experts a region, 3000 teachers, ~6 % open, 1–2 messages a
  ticket, the search documents), and 50 tickets of София-град with 10
  messages.

Then, in rounds (peer, ours, peer, ours…, so the machine's other load hits
both alike), each system is served as in production on a fresh copy of its
database: the peer under gunicorn with 2 sync workers (its harness's command
line), ours under uvicorn with 2 worker processes (`--workers 2`, the
same number of processes; scripts/run-scaled.sh runs two uvicorns behind a
proxy, which would add a hop the peer does not have). One sequential
keep-alive client (this file, the same code for both) measures:

* queue: the peer's ticket list data (datatables JSON, default "open" query,
  25 rows, the URL its harness scrapes after logging in as staff001) against
  the console queue of the busiest expert of София-град (/console/, "mine");
* ticket page with 10 messages (50 such tickets, in turn);
* filing through the web form, with CSRF: the peer's anonymous public form,
  ours the portal form as logged-in teachers (sessions made in the database,
  10 requests a teacher so the per-person limit of tickets.ratelimit is never
  reached). Anything but the redirect after success counts as an error;
* e-mail: the peer's own corpus (its email_bench.py --generate-only), the peer
  timed by its email_bench.py (manage.py get_email), ours by
  `manage.py ingest_eml` over the same files. The replies of the corpus name
  the peer's tickets ("[region-01-<id>]", In-Reply-To of its seeded mail);
  ours get the same replies to the same-numbered tickets (the tag rewritten
  to ours, the Message-IDs registered as thread keys, the sender made the
  ticket's requester), so both thread them.

Queries per request: the peer's querycount.py, ours the Django test client
with CaptureQueriesContext, on a copy of the database. The figures go to
docs/benchmarks.md, section "peer".
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.utils
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from email.header import Header, decode_header
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine, percentiles, write_section

PEER_VERSION = "2.6.1"
PEER_PACKAGES = [f"django-helpdesk=={PEER_VERSION}", "gunicorn", "requests"]
DEFAULT_HARNESS = ROOT.parent / "shared" / "anchors" / "django-helpdesk-bench"
VAR = ROOT / "var"
PEER_DIR = VAR / "peer"
OURS_DIR = VAR / "peer-ours"
SAMPLE_TICKETS = 50  # tickets with 10 messages, for the ticket page probe
TEN = 10
FILINGS_PER_TEACHER = 10  # under the per-person limit (20 an hour)
PREFIX = "90"  # the references of generated tickets: 90-0000001 …
SECRET = "bench-peer-not-a-secret-" + "x" * 40


def log(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets in each database")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (peer, ours)")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per probe")
    parser.add_argument(
        "--max-seconds", type=float, default=30.0, help="a probe stops after this long"
    )
    parser.add_argument("--emails", type=int, default=300, help="messages in the mail corpus")
    parser.add_argument("--prepare-only", action="store_true", help="make both databases, stop")
    parser.add_argument(
        "--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone"
    )
    # Internal: the steps that run inside this project's Django, in a process of their own.
    parser.add_argument(
        "--child", choices=["generate", "sessions", "querycount"], help=argparse.SUPPRESS
    )
    parser.add_argument("--var", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tickets < SAMPLE_TICKETS:
        parser.error(f"--tickets must be at least {SAMPLE_TICKETS}")
    if args.rounds < 1 or args.requests < 1 or args.emails < 0:
        parser.error("--rounds and --requests must be positive, --emails not negative")
    return args


# --- this project's side, inside Django ------------------------------------------------


def ours_env(var_dir: Path) -> dict[str, str]:
    """The environment of our processes: the embedded default (SQLite in var_dir), production form."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("HELPDESK_TESTING", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        HELPDESK_VAR_DIR=str(var_dir),
        SECRET_KEY=SECRET,
        HTTPS="false",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        # As the peer's site: notifications are made, nothing is delivered.
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def make_var_dirs(var_dir: Path) -> None:
    # The settings create nothing; the embedded broker needs its folders.
    for sub in ("broker/queue", "broker/processed", "broker/control", "uploads", "mail", "static"):
        (var_dir / sub).mkdir(parents=True, exist_ok=True)


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()


WORDS = (
    "моля помощ ученик клас диплома свидетелство регистър профил парола вход грешка данни "
    "институция директор учител дневник оценки модул система справка корекция дубликат "
    "сканиране файл размер формат печат подпис срок кампания обновление миграция"
).split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def child_generate(n: int, out: str) -> None:
    """Fill this project's SQLite database with n generated tickets (pristine copy)."""
    from datetime import timedelta

    started = time.perf_counter()
    _django()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    migrated = time.perf_counter() - started
    import functools

    from bench_console import EXPERTS_PER_REGION, SUBJECTS, seed_people

    from accounts.models import AgentProfile, Membership, User
    from tickets import search
    from tickets.models import Competence, Message, Ticket
    from tickets.search import build_document

    # The same stems, remembered: the generated texts use a few dozen words.
    search._stem = functools.lru_cache(maxsize=None)(search._stem)
    seed_people()
    with connection.cursor() as cursor:
        # Bulk loading only (this connection): the served copy keeps the settings' pragmas.
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-200000")
    teachers = list(
        Membership.objects.filter(institution__code__startswith="9")
        .order_by("pk")
        .values_list(
            "user_id", "user__email", "user__full_name", "institution_id", "institution__region_id"
        )
    )
    competences = list(Competence.objects.order_by("pk").values_list("pk", "tier"))
    experts: dict[int, list[int]] = {}
    for region_id, user_id in (
        AgentProfile.objects.filter(kind="expert", region__isnull=False)
        .order_by("pk")
        .values_list("region_id", "user_id")
    ):
        experts.setdefault(region_id, []).append(user_id)
    existing = Ticket.objects.filter(reference__startswith=f"{PREFIX}-").count()
    rng = random.Random(42 + existing)
    now = timezone.now()
    batch = 5000
    for first in range(existing + 1, n + 1, batch):
        last = min(n, first + batch - 1)
        tickets = []
        for g in range(first, last + 1):
            user_id, mail, name, institution_id, region_id = teachers[(g * 7919) % len(teachers)]
            competence_id, tier = competences[(g * 31 + g // 7) % len(competences)]
            r1, r2, r3, r4, r5 = (rng.random() for _ in range(5))
            age = r1 * 365
            created = now - timedelta(days=age)
            if age < 14:
                status = (
                    "new"
                    if r2 < 0.30
                    else "open"
                    if r2 < 0.60
                    else "waiting"
                    if r2 < 0.75
                    else "resolved"
                    if r2 < 0.90
                    else "closed"
                )
            else:
                status = (
                    "open"
                    if r2 < 0.02
                    else "waiting"
                    if r2 < 0.03
                    else "resolved"
                    if r2 < 0.08
                    else "closed"
                )
            answered = None if status == "new" else created + timedelta(hours=r3 * 40)
            resolved = (
                created + timedelta(days=r3 * 8) if status in ("resolved", "closed") else None
            )
            pool = experts[region_id]
            assignee = (
                pool[((g * 48271) % 1000003) % EXPERTS_PER_REGION % len(pool)]
                if status != "new" or r4 < 0.5
                else None
            )
            tickets.append(
                Ticket(
                    reference=f"{PREFIX}-{g:07d}",
                    institution_id=institution_id,
                    institution_verified=True,
                    requester_id=user_id,
                    requester_email=mail,
                    requester_name=name,
                    channel="portal" if r5 < 0.70 else "email" if r5 < 0.98 else "api",
                    subject=f"{SUBJECTS[g % len(SUBJECTS)]} ({g})",
                    competence_id=competence_id,
                    region_id=region_id,
                    tier=tier,
                    status=status,
                    priority=(
                        "low"
                        if r4 < 0.10
                        else "normal"
                        if r4 < 0.80
                        else "high"
                        if r4 < 0.95
                        else "urgent"
                    ),
                    assignee_id=assignee,
                    created_at=created,
                    updated_at=min(now, (resolved or answered or created) + timedelta(minutes=5)),
                    first_response_at=answered,
                    resolved_at=resolved,
                    closed_at=resolved if status == "closed" else None,
                    first_response_due=created + timedelta(days=1),
                    resolution_due=None if status == "waiting" else created + timedelta(days=5),
                    sla_breached=status in ("new", "open") and created + timedelta(days=5) < now,
                    message_count=1 if answered is None else 2,
                )
            )
        with transaction.atomic():
            Ticket.objects.bulk_create(tickets, batch_size=1000)
            messages = []
            for ticket in tickets:
                messages.append(
                    Message(
                        ticket=ticket,
                        sender_email=ticket.requester_email,
                        sender_name=ticket.requester_name,
                        channel=ticket.channel,
                        body_text=f"{ticket.subject}. {_text(rng, 25)}",
                        created_at=ticket.created_at,
                        author_id=ticket.requester_id,
                    )
                )
                if ticket.first_response_at is not None:
                    messages.append(
                        Message(
                            ticket=ticket,
                            channel="console",
                            body_text=_text(rng, 30),
                            from_staff=True,
                            created_at=ticket.first_response_at,
                            author_id=ticket.assignee_id,
                        )
                    )
            Message.objects.bulk_create(messages, batch_size=1000)
            texts: dict[int, list] = {}
            for message in messages:
                texts.setdefault(message.ticket_id, []).append((message.kind, message.body_text))
            with connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO tickets_search_fts (rowid, public_text, note_text) VALUES (%s, %s, %s)",
                    [(t.pk, *build_document(t.subject, texts[t.pk])) for t in tickets],
                )
        log(f"  ours: {last} tickets ({time.perf_counter() - started:.0f} s)")

    # The busy desk: the expert of София-град with the most open requests, and
    # 50 of the region's tickets grown to 10 messages for the ticket page.
    from django.db.models import Count, Q

    from tickets.models import OPEN_STATUSES

    expert = (
        User.objects.filter(email__startswith="expert", email__endswith=".r22@bench.test")
        .annotate(
            open=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=OPEN_STATUSES))
        )
        .order_by("-open", "pk")
        .first()
    )
    sample = list(
        Ticket.objects.filter(reference__startswith=f"{PREFIX}-", region__code="22")
        .order_by("-pk")
        .values_list("pk", "reference", "requester_id", "requester_email", "channel")[
            :SAMPLE_TICKETS
        ]
    )
    with transaction.atomic():
        for pk, _reference, requester_id, requester_email, channel in sample:
            have = Message.objects.filter(ticket_id=pk).count()
            extra = []
            for i in range(have, TEN):
                staff = i % 2 == 1
                extra.append(
                    Message(
                        ticket_id=pk,
                        sender_email="" if staff else requester_email,
                        channel="console" if staff else channel,
                        body_text=_text(rng, 30),
                        from_staff=staff,
                        author_id=expert.pk if staff else requester_id,
                        created_at=now - timedelta(hours=TEN - i),
                    )
                )
            Message.objects.bulk_create(extra)
            Ticket.objects.filter(pk=pk).update(message_count=TEN)
    teachers_used = [t[0] for t in teachers[:500]]
    general = Competence.objects.get(code="general").pk
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    meta = {
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "open": Ticket.objects.filter(status__in=OPEN_STATUSES).count(),
        "expert": expert.pk,
        "expert_open": expert.open,
        "sample": [s[1] for s in sample],
        # One teacher per institution (2000 institutions, 3000 teachers).
        "teachers": teachers_used,
        "competence": general,
        "migrate_s": round(migrated, 1),
        "generate_s": round(time.perf_counter() - started, 1),
    }
    Path(out).write_text(json.dumps(meta), encoding="utf-8")


def child_sessions(meta_path: str, teachers: int, out: str) -> None:
    """Log the expert and `teachers` teachers in (as the test client does); write the cookies."""
    _django()
    from django.test import Client

    from accounts.models import User

    meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
    cookies = {}
    for pk in [meta["expert"], *meta["teachers"][:teachers]]:
        client = Client()
        client.force_login(User.objects.get(pk=pk))
        cookies[str(pk)] = client.cookies["sessionid"].value
    Path(out).write_text(json.dumps(cookies), encoding="utf-8")


def child_querycount(meta_path: str, out: str) -> None:
    """Queries per request of the three pages, through the test client (on a working copy)."""
    _django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from accounts.models import User
    from tickets.models import Ticket

    meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
    expert = Client()
    expert.force_login(User.objects.get(pk=meta["expert"]))
    teacher_id = meta["teachers"][-1]
    teacher = Client()
    teacher.force_login(User.objects.get(pk=teacher_id))
    ticket = Ticket.objects.get(reference=meta["sample"][0])
    institution = User.objects.get(pk=teacher_id).memberships.first().institution_id
    result = {}

    def count(label, call, ok):
        call()  # warm: the first request fills per-process caches
        with CaptureQueriesContext(connection) as ctx:
            response = call()
        assert response.status_code in ok, (label, response.status_code)
        result[label] = len(ctx.captured_queries)

    count("queue", lambda: expert.get(reverse("console:queue")), (200,))
    count("ticket", lambda: expert.get(reverse("console:ticket", args=[ticket.reference])), (200,))
    new = reverse("portal:new")
    numbers = iter(range(1000))
    count(
        "filing",
        lambda: teacher.post(
            new,
            {
                "institution": institution,
                "competence": meta["competence"],
                "subject": f"Заявка за преброяване на заявките {next(numbers)}",
                "description": "Не мога да прикача дипломата, излиза грешка.",
            },
        ),
        (302, 303),
    )
    Path(out).write_text(json.dumps(result), encoding="utf-8")


# --- processes and files -------------------------------------------------------------


def run(command, *, env=None, cwd=None, check=True, quiet=False) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(c) for c in command],
        env=env,
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.STDOUT if quiet else None,
    )
    if check and result.returncode:
        tail = (result.stdout or "")[-2000:] if quiet else ""
        raise SystemExit(f"failed ({result.returncode}): {' '.join(map(str, command))}\n{tail}")
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process (group) started here; stopped by its PID, also at exit."""

    started: list[Server] = []

    def __init__(self, command, *, env=None, cwd=None, port: int, probe: str, log_path: Path):
        self.port = port
        self.log = open(log_path, "w")  # closed in stop()
        self.process = subprocess.Popen(
            [str(c) for c in command],
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers share its process group
        )
        Server.started.append(self)
        import requests

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"server stopped at start; see {log_path}")
            with contextlib.suppress(requests.RequestException):
                requests.get(f"http://127.0.0.1:{port}{probe}", timeout=5)
                return
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"server did not answer within 90 s; see {log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        if self in Server.started:
            Server.started.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.started):
            server.stop()


def copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


# --- preparing both ------------------------------------------------------------------


def harness_dir() -> Path:
    harness = Path(os.environ.get("BENCH_PEER_HARNESS", DEFAULT_HARNESS))
    needed = ["seed.py", "bench_http.py", "querycount.py", "email_bench.py", "site/manage.py"]
    missing = [name for name in needed if not (harness / name).exists()]
    if missing:
        raise SystemExit(
            f"The django-helpdesk harness is not at {harness} (missing {', '.join(missing)}).\n"
            "It comes with ../shared beside the checkout (../shared/anchors/django-helpdesk-bench);"
            " set BENCH_PEER_HARNESS to its folder if it is elsewhere."
        )
    return harness


def prepare_peer(n: int, timings: dict):
    """Harness copy and virtualenv; start its seed.py if its database is not there yet."""
    started = time.perf_counter()
    harness = harness_dir()
    if not (PEER_DIR / "seed.py").exists():
        log(f"peer: copying the harness to {PEER_DIR}")
        shutil.copytree(harness, PEER_DIR, dirs_exist_ok=True)
        for path in [PEER_DIR, *PEER_DIR.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)  # the shared copy is read-only
    python = PEER_DIR / "venv" / "bin" / "python"
    if not python.exists():
        log("peer: virtualenv and pip install " + " ".join(PEER_PACKAGES))
        run(["python3", "-m", "venv", PEER_DIR / "venv"])
    if run(
        [python, "-c", "import helpdesk, gunicorn, requests"], check=False, quiet=True
    ).returncode:
        run([python, "-m", "pip", "install", "-q", *PEER_PACKAGES])
    timings["peer: venv"] = time.perf_counter() - started
    seed = PEER_DIR / "data" / f"seed-{n}.sqlite3"
    if seed.exists():
        return None
    # Into a scratch name, renamed when complete: an interrupted seed is redone.
    log(f"peer: seed.py {n} (beside our generator)")
    (PEER_DIR / "data").mkdir(exist_ok=True)
    command = [python, "seed.py", n, "--out", f"{seed}.tmp"]
    return subprocess.Popen([str(c) for c in command], cwd=PEER_DIR), time.perf_counter()


def finish_peer(n: int, seeding, timings: dict) -> Path:
    """Wait for the peer's seed; make the copy whose 50 tickets have 10 follow-ups."""
    python = PEER_DIR / "venv" / "bin" / "python"
    seed = PEER_DIR / "data" / f"seed-{n}.sqlite3"
    if seeding is not None:
        process, t0 = seeding
        if process.wait():
            raise SystemExit(f"peer: seed.py {n} failed ({process.returncode})")
        Path(f"{seed}.tmp").rename(seed)
        timings["peer: seed (beside our generator)"] = time.perf_counter() - t0
    side = PEER_DIR / "data" / f"side-{n}.sqlite3"
    if not side.exists():
        t0 = time.perf_counter()
        copy_db(seed, Path(f"{side}.tmp"))
        env = dict(os.environ, DH_DB=f"{side}.tmp", DJANGO_SETTINGS_MODULE="dhsite.settings")
        ids = random.Random(5).sample(range(1, n + 1), SAMPLE_TICKETS)
        run([python, "-c", PEER_FOLLOWUPS, json.dumps(ids)], env=env, cwd=PEER_DIR / "site")
        Path(f"{side}.tmp").rename(side)
        timings["peer: 10 follow-ups on 50 tickets"] = time.perf_counter() - t0
    return side


# Runs in the peer's virtualenv: seven more follow-ups (staff comments) on the
# given tickets, which had three, so their pages show ten.
PEER_FOLLOWUPS = """
import json, sys
import django
sys.path.insert(0, ".")
django.setup()
from django.contrib.auth.models import User
from helpdesk.models import FollowUp
agents = list(User.objects.filter(is_staff=True, is_superuser=False).order_by("id")[:7])
rows = []
for ticket_id in json.loads(sys.argv[1]):
    for n, agent in enumerate(agents):
        rows.append(FollowUp(ticket_id=ticket_id, user=agent, public=True, title="Staff note",
                             comment=f"Note {n + 1}: looked again at the account; try once more."))
FollowUp.objects.bulk_create(rows)
"""


def prepare_ours(n: int, timings: dict) -> tuple[Path, dict]:
    var = OURS_DIR / f"seed-{n}"
    db, meta_path = var / "helpdesk.sqlite3", var / "meta.json"
    if not meta_path.exists():
        if var.exists():
            shutil.rmtree(var)  # half made: start again
        make_var_dirs(var)
        log(f"ours: generating {n} tickets in {db}")
        t0 = time.perf_counter()
        run(
            [sys.executable, __file__, "--child", "generate", "--tickets", n, "--out", meta_path],
            env=ours_env(var),
        )
        timings["ours: generate"] = time.perf_counter() - t0
    return db, json.loads(meta_path.read_text(encoding="utf-8"))


def compile_messages() -> None:
    # `make run` compiles the translations first; without them pages are in English.
    if not list((ROOT / "locale").glob("*/LC_MESSAGES/django.mo")):
        run([sys.executable, ROOT / "scripts" / "compile_messages.py"], quiet=True)


def prepare_corpus(n: int, count: int, side: Path) -> tuple[Path, Path, list]:
    """The peer's corpus (its generator), and the same corpus addressed to our tickets."""
    python = PEER_DIR / "venv" / "bin" / "python"
    theirs = PEER_DIR / "data" / f"corpus-{n}-{count}"
    ours = OURS_DIR / f"corpus-{n}-{count}"
    if not (theirs / "done").exists():
        shutil.rmtree(theirs, ignore_errors=True)
        env = dict(os.environ, DH_DB=str(side))
        run(
            [python, "email_bench.py", "--generate-only", "--count", count, "--maildir", theirs],
            env=env,
            cwd=PEER_DIR,
            quiet=True,
        )
        (theirs / "done").touch()
    if not (ours / "done").exists():
        shutil.rmtree(ours, ignore_errors=True)
        ours.mkdir(parents=True)
        for path in sorted(theirs.glob("*.eml")):
            (ours / path.name).write_bytes(translate_mail(path.read_bytes(), n))
        (ours / "done").touch()
    return theirs, ours, replies_in(ours)


def replies_in(corpus: Path) -> list[tuple[str, str, str]]:
    """(Message-ID answered or "", our ticket's reference, sender) of each reply of the corpus."""
    replies = []
    for path in sorted(corpus.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes())
        sender = email.utils.parseaddr(message.get("From", ""))[1].lower()
        tag = re.search(rf"HD#({PREFIX}-\d+)", _subject(message))
        answered = message.get("In-Reply-To", "").strip()
        seed = re.fullmatch(r"<seed-(\d+)@example\.org>", answered)
        if tag:
            replies.append(("", tag.group(1), sender))
        elif seed:
            replies.append((answered, f"{PREFIX}-{int(seed.group(1)):07d}", sender))
    return replies


def _subject(message) -> str:
    return "".join(
        part.decode(charset or "ascii") if isinstance(part, bytes) else part
        for part, charset in decode_header(message.get("Subject", ""))
    )


_PEER_TAG = re.compile(r"\[region-\d\d-(\d+)\]")


def translate_mail(raw: bytes, n: int) -> bytes:
    """The same message, its reply tag naming our ticket of the same number."""
    message = email.message_from_bytes(raw)
    subject = message.get("Subject", "")
    parts = decode_header(subject)
    text = "".join(
        part.decode(charset or "ascii") if isinstance(part, bytes) else part
        for part, charset in parts
    )
    match = _PEER_TAG.search(text)
    if not match or int(match.group(1)) > n:
        return raw
    new = _PEER_TAG.sub(f"[HD#{PREFIX}-{int(match.group(1)):07d}]", text)
    charset = next((c for _p, c in parts if c), None)
    del message["Subject"]
    message["Subject"] = Header(new, charset).encode() if charset else new
    return message.as_bytes()


# --- the probes ----------------------------------------------------------------------


def probe(session, method, urls, *, requests_n, max_seconds, ok, data=None, cookies=None):
    """Sequential requests on one keep-alive session; latencies (ms), errors, wall seconds."""
    latencies, errors, statuses = [], 0, {}
    for i in range(min(3, len(urls)) if method == "GET" else 0):  # warm-up
        session.get(urls[i % len(urls)], cookies=cookies(i) if cookies else None, timeout=300)
    wall = time.perf_counter()
    for i in range(requests_n):
        if time.perf_counter() - wall > max_seconds:
            break
        url = urls[i % len(urls)]
        if cookies:
            session.cookies.clear()
        jar = cookies(i) if cookies else None
        t0 = time.perf_counter()
        if method == "GET":
            response = session.get(url, cookies=jar, timeout=300)
        else:
            response = session.post(
                url, data=data(i), cookies=jar, allow_redirects=False, timeout=300
            )
        latencies.append((time.perf_counter() - t0) * 1000)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        errors += response.status_code not in ok
    wall = time.perf_counter() - wall
    stats = percentiles(latencies)
    stats.update(errors=errors, statuses=statuses, wall=wall, rate=(len(latencies) - errors) / wall)
    return stats


def peer_web_round(args, side: Path, round_dir: Path) -> dict:
    import requests

    python = PEER_DIR / "venv" / "bin" / "python"
    db = PEER_DIR / "data" / "helpdesk.sqlite3"
    copy_db(side, db)
    shutil.rmtree(PEER_DIR / "data" / "media", ignore_errors=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, DH_DB=str(db), DJANGO_SETTINGS_MODULE="dhsite.settings")
    server = Server(
        [PEER_DIR / "venv" / "bin" / "gunicorn", "dhsite.wsgi:application", "--chdir", "site",
         "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--log-level", "warning"],
        env=env, cwd=PEER_DIR, port=port, probe="/helpdesk/login/", log_path=round_dir / "peer-gunicorn.log",
    )  # fmt: skip
    try:
        info_path = round_dir / "peer-session.json"
        run([python, "bench_http.py", "login", "--base", base, "--cookie-file", info_path],
            env=env, cwd=PEER_DIR, quiet=True)  # fmt: skip
        info = json.loads(info_path.read_text())
        staff = requests.Session()
        staff.cookies.set("sessionid", info["sessionid"])
        path = info["datatables_path"]
        queue_urls = [base + path.replace("draw=1", f"draw={i + 10}") for i in range(args.requests)]
        ids = random.Random(5).sample(range(1, args.tickets + 1), SAMPLE_TICKETS)
        ticket_urls = [f"{base}/helpdesk/tickets/{tid}/" for tid in ids]
        result = {
            "queue": probe(staff, "GET", queue_urls, requests_n=args.requests, max_seconds=args.max_seconds, ok=(200,)),
            "ticket": probe(staff, "GET", ticket_urls, requests_n=args.requests, max_seconds=args.max_seconds, ok=(200,)),
        }  # fmt: skip
        visitor = requests.Session()
        form = visitor.get(f"{base}/helpdesk/tickets/submit/", timeout=60)
        token = visitor.cookies.get("csrftoken")
        select = re.search(r'name="queue".*?</select>', form.text, re.DOTALL)
        queues = re.findall(r'value="(\d+)"', select.group(0) if select else "")
        if not queues:
            raise SystemExit("peer: the public submit form offers no queue")
        rng = random.Random(11)

        def submit(i):
            return {
                "csrfmiddlewaretoken": token,
                "queue": queues[i % len(queues)],
                "title": f"Printer offline in room {i}",
                "body": "The printer on the third floor is offline since the morning. " * 4,
                "priority": str(rng.choice([2, 3, 3, 3, 4])),
                "due_date": "",
                "submitter_email": f"parent.{rng.randrange(2500)}@school.example.net",
            }

        result["filing"] = probe(
            visitor, "POST", [f"{base}/helpdesk/tickets/submit/"], requests_n=args.requests,
            max_seconds=args.max_seconds, ok=(302,), data=submit,
        )  # fmt: skip
    finally:
        server.stop()
    return result


def ours_web_round(args, seed_db: Path, meta: dict, round_dir: Path) -> dict:
    import requests

    var = OURS_DIR / "run"
    shutil.rmtree(var, ignore_errors=True)
    make_var_dirs(var)
    copy_db(seed_db, var / "helpdesk.sqlite3")
    env = ours_env(var)
    teachers = -(-args.requests // FILINGS_PER_TEACHER)
    cookies_path = round_dir / "ours-sessions.json"
    run([sys.executable, __file__, "--child", "sessions", "--var", OURS_DIR / f"seed-{args.tickets}",
         "--requests", teachers, "--out", cookies_path], env=env)  # fmt: skip
    sessions = json.loads(cookies_path.read_text())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server(
        [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
         "--port", port, "--workers", "2", "--lifespan", "off", "--no-access-log"],
        env=env, cwd=ROOT, port=port, probe="/healthz", log_path=round_dir / "ours-uvicorn.log",
    )  # fmt: skip
    try:
        expert = requests.Session()
        expert.cookies.set("sessionid", sessions[str(meta["expert"])])
        queue_urls = [f"{base}/console/"]
        ticket_urls = [f"{base}/console/tickets/{ref}/" for ref in meta["sample"]]
        result = {
            "queue": probe(expert, "GET", queue_urls, requests_n=args.requests, max_seconds=args.max_seconds, ok=(200,)),
            "ticket": probe(expert, "GET", ticket_urls, requests_n=args.requests, max_seconds=args.max_seconds, ok=(200,)),
        }  # fmt: skip
        # Each teacher opens the form once (untimed), as the peer's visitor does.
        client = requests.Session()
        forms = []
        for pk in meta["teachers"][:teachers]:
            client.cookies.clear()
            page = client.get(
                f"{base}/portal/new/", cookies={"sessionid": sessions[str(pk)]}, timeout=60
            )
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            institution = re.search(r'name="institution" value="(\d+)"', page.text)
            if page.status_code != 200 or not token or not institution:
                raise SystemExit(f"ours: the portal form did not open for teacher {pk}")
            forms.append(
                {
                    "sessionid": sessions[str(pk)],
                    "csrftoken": client.cookies.get("csrftoken"),
                    "token": token.group(1),
                    "institution": institution.group(1),
                }
            )

        def form(i):
            f = forms[i // FILINGS_PER_TEACHER]
            return {
                "csrfmiddlewaretoken": f["token"],
                "institution": f["institution"],
                "competence": meta["competence"],
                "subject": f"Дневникът не се отваря в стая {i}",
                "description": "От сутринта електронният дневник не се отваря, излиза грешка. " * 4,
            }

        def jar(i):
            f = forms[i // FILINGS_PER_TEACHER]
            return {"sessionid": f["sessionid"], "csrftoken": f["csrftoken"]}

        result["filing"] = probe(
            client, "POST", [f"{base}/portal/new/"], requests_n=args.requests,
            max_seconds=args.max_seconds, ok=(302, 303), data=form, cookies=jar,
        )  # fmt: skip
    finally:
        server.stop()
    return result


def peer_mail_round(args, side: Path, round_dir: Path) -> dict:
    python = PEER_DIR / "venv" / "bin" / "python"
    db = PEER_DIR / "data" / "helpdesk.sqlite3"
    copy_db(side, db)
    out = round_dir / "peer-email.json"
    env = dict(os.environ, DH_DB=str(db))
    run([python, "email_bench.py", "--count", args.emails, "--max-seconds", 600, "--out", out],
        env=env, cwd=PEER_DIR, quiet=True)  # fmt: skip
    data = json.loads(out.read_text())
    return {
        "rate": data["msgs_per_s"],
        "seconds": data["get_email_s"],
        "processed": data["messages_processed"],
        "outcome": f"{data['new_tickets']} new, {data['followups_on_existing_tickets']} replies",
    }


def ours_mail_round(args, seed_db: Path, corpus: Path, replies: list, round_dir: Path) -> dict:
    var = OURS_DIR / "run"
    shutil.rmtree(var, ignore_errors=True)
    make_var_dirs(var)
    db = var / "helpdesk.sqlite3"
    copy_db(seed_db, db)
    # Untimed, so that the corpus's replies are replies here too, as they are
    # for the peer: the Message-IDs its seeded tickets carry become thread
    # keys, and the reply's sender is the ticket's requester (ours opens a new
    # linked request for a stranger's reply; the peer appends anyone's).
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.executemany(
            "INSERT INTO tickets_mailthreadkey (mail_id, ticket_id, direction, recipient, created_at) "
            "SELECT ?, id, 'in', '', datetime('now') FROM tickets_ticket WHERE reference = ?",
            [(mail_id, reference) for mail_id, reference, _sender in replies if mail_id],
        )
        conn.executemany(
            "UPDATE tickets_ticket SET requester_email = ? WHERE reference = ?",
            [(sender, reference) for _mail_id, reference, sender in replies],
        )
    files = sorted(str(p) for p in corpus.glob("*.eml"))
    started = time.perf_counter()
    result = run([sys.executable, ROOT / "manage.py", "ingest_eml", *files], env=ours_env(var),
                 check=False, quiet=True)  # fmt: skip
    seconds = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for line in result.stdout.splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            outcome = row.get("outcome", "?")
            if outcome == "created" and f"{PREFIX}-" in (row.get("reason") or ""):
                # A reply found its request, which is closed: a new linked one (our policy).
                outcome = "replies opening a linked request"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    (round_dir / "ours-ingest.txt").write_text(result.stdout)
    processed = sum(v for k, v in outcomes.items() if k != "error")
    return {
        "rate": processed / seconds,
        "seconds": seconds,
        "processed": processed,
        "outcome": ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items())),
    }


def peer_querycount(n: int, round_dir: Path) -> dict:
    # On its own seed: querycount.py adds 10 follow-ups to a ticket of 3 itself.
    python = PEER_DIR / "venv" / "bin" / "python"
    db = PEER_DIR / "data" / "helpdesk.sqlite3"
    copy_db(PEER_DIR / "data" / f"seed-{n}.sqlite3", db)
    out = round_dir / "peer-querycount.json"
    env = dict(os.environ, DH_DB=str(db), DH_DEBUG="1")
    run(
        [python, "querycount.py", "--n-tickets", n, "--out", out], env=env, cwd=PEER_DIR, quiet=True
    )
    rows = json.loads(out.read_text())

    def find(prefix):
        return [r["queries"] for r in rows if r["label"].startswith(prefix)]

    views = find("b ticket view")
    return {
        "queue": find("a2 datatables JSON length=25")[0],
        "ticket": find("b+ ticket view")[0],
        "ticket_3": f"{min(views)}–{max(views)}",
        "filing": find("c public submit POST")[0],
    }


def ours_querycount(seed_db: Path, n: int, round_dir: Path) -> dict:
    var = OURS_DIR / "run"
    shutil.rmtree(var, ignore_errors=True)
    make_var_dirs(var)
    copy_db(seed_db, var / "helpdesk.sqlite3")
    out = round_dir / "ours-querycount.json"
    run([sys.executable, __file__, "--child", "querycount", "--var", OURS_DIR / f"seed-{n}",
         "--out", out], env=ours_env(var))  # fmt: skip
    return json.loads(out.read_text())


# --- the report ----------------------------------------------------------------------


def median_of(rounds: list[dict], key: str, field: str) -> float:
    values = sorted(r[key][field] for r in rounds)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def versions() -> str:
    python = PEER_DIR / "venv" / "bin" / "python"
    theirs = run(
        [python, "-c", "import django, gunicorn, importlib.metadata as m; "
         "print(f'django-helpdesk {m.version(\"django-helpdesk\")}, Django {django.get_version()}, "
         "gunicorn {gunicorn.__version__}')"],
        quiet=True,
    ).stdout.strip()  # fmt: skip
    import django
    import uvicorn

    return (
        f"peer: {theirs}; this project: Django {django.get_version()}, uvicorn {uvicorn.__version__}; "
        f"SQLite {sqlite3.sqlite_version}"
    )


def report(
    args, peer: list[dict], ours: list[dict], counts: dict, timings: dict, meta: dict
) -> str:
    def ms(rounds, key):
        return (
            f"{median_of(rounds, key, 'median'):.1f} / {median_of(rounds, key, 'p95'):.1f} ms"
            f" (medians {spread(rounds, key, 'median')})"
        )

    def rate(rounds, key):
        return median_of(rounds, key, "rate")

    def spread(rounds, key, field):
        values = [r[key][field] for r in rounds]
        return f"{min(values):.1f}–{max(values):.1f}"

    def errors(rounds, key):
        return sum(r[key]["errors"] for r in rounds)

    def factor(value):
        # How many times faster this project is; below 1, how many times slower.
        return f"{value:.1f}× faster" if value >= 1 else f"{1 / value:.1f}× slower"

    def faster_ms(key):
        return factor(median_of(peer, key, "median") / median_of(ours, key, "median"))

    def faster_rate(key):
        return factor(rate(ours, key) / rate(peer, key))

    rows = [
        ("agent queue (median / p95)", ms(peer, "queue"), ms(ours, "queue"), faster_ms("queue")),
        (
            "ticket page, 10 messages (median / p95)",
            ms(peer, "ticket"),
            ms(ours, "ticket"),
            faster_ms("ticket"),
        ),
        (
            "filing through the web form, sequential",
            f"{rate(peer, 'filing'):.1f} requests/s ({spread(peer, 'filing', 'rate')}), "
            f"{errors(peer, 'filing')} errors",
            f"{rate(ours, 'filing'):.1f} requests/s ({spread(ours, 'filing', 'rate')}), "
            f"{errors(ours, 'filing')} errors",
            faster_rate("filing"),
        ),
    ]
    if peer and "mail" in peer[0]:
        rows.append(
            (
                f"e-mail ingestion, {args.emails} messages (same corpus)",
                f"{rate(peer, 'mail'):.1f} messages/s ({spread(peer, 'mail', 'rate')})",
                f"{rate(ours, 'mail'):.1f} messages/s ({spread(ours, 'mail', 'rate')})",
                faster_rate("mail"),
            )
        )
    rows += [
        ("queries: agent queue", str(counts["peer"]["queue"]), str(counts["ours"]["queue"]), ""),
        (
            "queries: ticket page",
            f"{counts['peer']['ticket']} (13 follow-ups; {counts['peer']['ticket_3']} with 3)",
            f"{counts['ours']['ticket']} (10 messages)",
            "",
        ),
        ("queries: filing POST", str(counts["peer"]["filing"]), str(counts["ours"]["filing"]), ""),
    ]
    table = ["| probe | django-helpdesk 2.6.1 | this project | ratio |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    mail_line = ""
    if peer and "mail" in peer[0]:
        mail_line = (
            f"\nE-mail outcomes (last round): peer {peer[-1]['mail']['outcome']}; "
            f"ours {ours[-1]['mail']['outcome']}. Both rates include the command's start-up."
        )
    took = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "load")
    return "\n".join(
        [
            "## Side by side with django-helpdesk",
            "",
            f"`python bench/bench_peer.py --tickets {args.tickets} --rounds {args.rounds} "
            f"--requests {args.requests} --emails {args.emails}` — "
            f"{machine()}; {versions()}.",
            f"Both on SQLite, {f'{args.tickets:,}'.replace(',', ' ')} tickets each ("
            f"ours: {meta['open']} open, {meta['messages']} messages; the peer: its seed.py, "
            "3 follow-ups each, 15 % open), each served on a fresh copy of its database: the peer "
            "under gunicorn, 2 sync workers (as its harness); ours under uvicorn, 2 worker "
            "processes (the embedded settings: WAL, local-memory cache, celery's filesystem "
            "broker with no worker running, so sending is not timed for ours; the peer renders "
            "its notification mails in the request, to a dummy backend).",
            f"One sequential keep-alive client, {args.requests} requests a probe (at most "
            f"{args.max_seconds:.0f} s), {args.rounds} alternating round(s); the figures are the "
            "medians of the rounds' medians and p95s (min–max over rounds for rates). Queue: the "
            "peer's datatables JSON (default open query, 25 rows, staff001) against the console "
            'queue (/console/, "mine") of the busiest expert of София-град. Filing: the peer\'s '
            "anonymous public form against the portal form as logged-in teachers; anything but "
            "the redirect after success is an error. Queries: the peer's querycount.py, ours "
            "the test client with CaptureQueriesContext.",
            "",
            *table,
            mail_line,
            "",
            f"Time taken: {took}. Load average (1 min) at the start of each round: "
            f"{', '.join(f'{x:.1f}' for x in timings.get('load', []))} on {os.cpu_count()} "
            "cores: other work on the machine slows both, unevenly.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        var = Path(args.var) if args.var else None
        if args.child == "generate":
            child_generate(args.tickets, args.out)
        elif args.child == "sessions":
            child_sessions(str(var / "meta.json"), args.requests, args.out)
        else:
            child_querycount(str(var / "meta.json"), args.out)
        return 0

    timings: dict = {}  # seconds by step, and "load": the load averages
    total = time.perf_counter()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))
    try:
        seeding = prepare_peer(args.tickets, timings)
        try:
            seed_db, meta = prepare_ours(args.tickets, timings)
        except BaseException:
            if seeding is not None and seeding[0].poll() is None:
                seeding[0].terminate()  # started here, stopped by its PID
                seeding[0].wait()
            raise
        side = finish_peer(args.tickets, seeding, timings)
        compile_messages()
        theirs, corpus, replies = (None, None, [])
        if args.emails:
            t0 = time.perf_counter()
            theirs, corpus, replies = prepare_corpus(args.tickets, args.emails, side)
            timings["mail corpus"] = time.perf_counter() - t0
        if args.prepare_only:
            log(json.dumps(timings))
            return 0
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        results = ROOT / "bench" / "results" / f"peer-{stamp}-n{args.tickets}"
        peer, ours = [], []
        for number in range(1, args.rounds + 1):
            round_dir = results / f"round{number}"
            round_dir.mkdir(parents=True)
            t0 = time.perf_counter()
            timings.setdefault("load", []).append(os.getloadavg()[0])
            log(f"== round {number}: web, peer")
            peer.append(peer_web_round(args, side, round_dir))
            log(f"== round {number}: web, ours")
            ours.append(ours_web_round(args, seed_db, meta, round_dir))
            if args.emails:
                log(f"== round {number}: mail, peer")
                peer[-1]["mail"] = peer_mail_round(args, side, round_dir)
                log(f"== round {number}: mail, ours")
                ours[-1]["mail"] = ours_mail_round(args, seed_db, corpus, replies, round_dir)
            timings[f"round {number}"] = time.perf_counter() - t0
            for name, r in (("peer", peer[-1]), ("ours", ours[-1])):
                log(
                    f"  {name}: queue {r['queue']['median']:.1f}/{r['queue']['p95']:.1f} ms, "
                    f"ticket {r['ticket']['median']:.1f}/{r['ticket']['p95']:.1f} ms, "
                    f"filing {r['filing']['rate']:.1f}/s ({r['filing']['errors']} errors, "
                    f"{r['filing']['statuses']})"
                    + (
                        f", mail {r['mail']['rate']:.1f}/s ({r['mail']['outcome']})"
                        if "mail" in r
                        else ""
                    )
                )
            (round_dir / "figures.json").write_text(
                json.dumps({"peer": peer[-1], "ours": ours[-1]}, indent=1)
            )
        t0 = time.perf_counter()
        log("== queries per request")
        counts = {
            "peer": peer_querycount(args.tickets, results),
            "ours": ours_querycount(seed_db, args.tickets, results),
        }
        timings["query counts"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - total
        body = report(args, peer, ours, counts, timings, meta)
        (results / "summary.md").write_text(body + "\n")
        if args.no_write:
            log(body)
        else:
            write_section("peer", body)
        log(f"raw figures: {results}")
    finally:
        Server.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
