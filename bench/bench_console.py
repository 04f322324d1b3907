"""Console benchmark: queue, ticket page and dashboard times as the data grows.

    python bench/bench_console.py                          # 10k tickets (make bench)
    python bench/bench_console.py --sizes 10000,100000,1000000

Fills one PostgreSQL database per size (BENCH_CONSOLE_DB_<size>, default
helpdesk_bench_console_10000 and so on; a new size starts as a copy of the
next smaller one and is topped up; the data is kept between runs) with
generated tickets, each size in a process of its own, then times
pages through Django's test client: the server's time per request, median
and p95, with the query count. Results go to docs/benchmarks.md, section
"console".

    python bench/bench_console.py --http --sizes 10000,100000,1000000

times the same pages over HTTP instead, through the project's ASGI server
started as production starts it (uvicorn, one process, a connection pool,
Redis for the cache and sessions): a logged-in agent's sequential GETs over
one keep-alive connection, median and p95 as the client sees them, and the
server process's CPU time per request. Section "console-http".
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_BASE, REDIS, ROOT, machine, percentiles, setup_django, write_section

DB_NAME = os.environ.get("BENCH_CONSOLE_DB", "helpdesk_bench_console")
PREFIX = "90"  # references 90-NNNNNNN never meet real ones (YY of the current year)
BATCH = 10_000
INSTITUTIONS = 2000
EXPERTS_PER_REGION = 6

SUBJECTS = [
    "Дипломата не се качва в регистъра",
    "Не мога да вляза с профила си в edu.mon.bg",
    "Грешка при прехвърляне на данните от стария регистър",
    "Дублиран ученик в две институции",
    "Делегиране на права на заместник-директора",
    "Електронният дневник не синхронизира оценките",
    "Липсват ученици след миграцията",
    "Модулът за документи връща грешка 500",
    "Сканираното изображение на свидетелството се отхвърля",
    "Как да коригирам издадена диплома",
    "Списък-образец: не мога да добавя паралелка",
    "Преместване на ученик между училища",
]
WORDS = (
    "моля помощ ученик клас диплома свидетелство регистър профил парола вход грешка данни "
    "институция директор учител дневник оценки модул система справка корекция дубликат "
    "сканиране файл размер формат печат подпис срок кампания обновление миграция"
).split()


def seed_people() -> None:
    """Create regions, competences, institutions, agents and requesters (once)."""
    from accounts.models import AgentProfile, Institution, Membership, User
    from accounts.regions import ensure_regions
    from tickets.catalogue import ensure_competences

    regions = list(ensure_regions().values())
    competences = list(ensure_competences().values())
    if not Institution.objects.filter(code__startswith="9").exists():
        Institution.objects.bulk_create(
            [
                Institution(code=f"9{i:06d}", name=f"Училище {i}", region=regions[i % len(regions)])
                for i in range(INSTITUTIONS)
            ],
            batch_size=BATCH,
        )
    if not User.objects.filter(email__endswith="@bench.test").exists():
        users = []
        for region in regions:
            for n in range(EXPERTS_PER_REGION):
                users.append(
                    User(
                        email=f"expert{n}.r{region.code}@bench.test",
                        full_name=f"Експерт {n} {region.name}",
                    )
                )
            users.append(
                User(
                    email=f"supervisor.r{region.code}@bench.test",
                    full_name=f"Началник {region.name}",
                )
            )
        users.append(User(email="national@bench.test", full_name="Национален координатор"))
        users += [
            User(email=f"teacher{i}@bench.test", full_name=f"Учител {i}") for i in range(3000)
        ]
        for user in users:
            user.set_unusable_password()
        User.objects.bulk_create(users, batch_size=BATCH)
        by_email = {u.email: u for u in User.objects.filter(email__endswith="@bench.test")}
        profiles = []
        for region in regions:
            for n in range(EXPERTS_PER_REGION):
                profiles.append(
                    AgentProfile(
                        user=by_email[f"expert{n}.r{region.code}@bench.test"],
                        tier="regional",
                        region=region,
                        capacity=40,
                    )
                )
            profiles.append(
                AgentProfile(
                    user=by_email[f"supervisor.r{region.code}@bench.test"],
                    tier="regional",
                    kind="supervisor",
                    region=region,
                )
            )
        profiles.append(
            AgentProfile(user=by_email["national@bench.test"], tier="central", kind="supervisor")
        )
        AgentProfile.objects.bulk_create(profiles)
        for profile in AgentProfile.objects.filter(user__email__startswith="expert"):
            profile.competences.set(competences)
        institutions = list(Institution.objects.filter(code__startswith="9"))
        Membership.objects.bulk_create(
            [
                Membership(
                    user=by_email[f"teacher{i}@bench.test"],
                    institution=institutions[i % len(institutions)],
                    role="teacher",
                )
                for i in range(3000)
            ],
            batch_size=BATCH,
        )


# Pseudo-random numbers in [0, 1) from the row number, so the generated data
# is the same on every run and needs no round trip per row.
_R = "((({g})::bigint * {a} + {c}) %% 1000003) / 1000003.0"


def _r(a: int, c: int) -> str:
    return _R.format(g="g", a=a, c=c)


TICKETS_SQL = f"""
WITH src AS (
  SELECT g, {_r(7919, 17)} AS r1, {_r(104729, 29)} AS r2, {_r(15485863, 3)} AS r3,
         {_r(32452843, 7)} AS r4, {_r(49979687, 11)} AS r5
  FROM generate_series(%(start)s, %(end)s) g
), base AS (
  SELECT src.*, t.user_id, t.institution_id, t.region_id, c.id AS competence_id, c.tier,
         now() - (r1 * 365) * interval '1 day' AS created, r1 * 365 AS age
  FROM src
  JOIN bench_teachers t ON t.n = (g::bigint * 7919) %% %(teachers)s
  JOIN bench_competences c ON c.n = (g::bigint * 31 + g / 7) %% %(competences)s
), st AS (
  SELECT base.*,
    CASE WHEN age < 14 THEN
      CASE WHEN r2 < .30 THEN 'new' WHEN r2 < .60 THEN 'open' WHEN r2 < .75 THEN 'waiting'
           WHEN r2 < .90 THEN 'resolved' ELSE 'closed' END
    ELSE
      CASE WHEN r2 < .02 THEN 'open' WHEN r2 < .03 THEN 'waiting' WHEN r2 < .08 THEN 'resolved'
           ELSE 'closed' END
    END AS status
  FROM base
), full_row AS (
  SELECT st.*,
    CASE WHEN status = 'new' THEN NULL ELSE created + (r3 * 40) * interval '1 hour' END AS answered,
    CASE WHEN status IN ('resolved', 'closed') THEN created + (r3 * 8) * interval '1 day' END AS resolved,
    CASE WHEN status <> 'new' OR r4 < .5 THEN e.user_id END AS assignee_id
  FROM st JOIN bench_experts e
    ON e.region_id = st.region_id AND e.n = ((g::bigint * 48271) %% 1000003) %% %(experts)s
)
INSERT INTO tickets_ticket (
  reference, institution_id, institution_verified, requester_id, requester_email, requester_name,
  channel, subject, competence_id, region_id, tier, status, priority, assignee_id,
  is_incident, created_at, updated_at, first_response_at, resolved_at, closed_at,
  first_response_due, resolution_due, sla_paused_seconds, sla_breached, has_attachments,
  message_count, satisfaction_comment)
SELECT
  '{PREFIX}-' || lpad(g::text, 7, '0'), institution_id, true, user_id,
  'teacher' || user_id || '@bench.test', 'Учител',
  CASE WHEN r5 < .70 THEN 'portal' WHEN r5 < .98 THEN 'email' ELSE 'api' END,
  (%(subjects)s::text[])[1 + g %% %(subject_count)s] || ' (' || g || ')',
  competence_id, region_id, tier, status,
  CASE WHEN r4 < .10 THEN 'low' WHEN r4 < .80 THEN 'normal' WHEN r4 < .95 THEN 'high'
       ELSE 'urgent' END,
  assignee_id, false, created,
  LEAST(now(), COALESCE(resolved, answered, created) + interval '5 minutes'),
  answered, resolved, CASE WHEN status = 'closed' THEN resolved END,
  created + interval '1 day',
  CASE WHEN status = 'waiting' THEN NULL ELSE created + interval '5 days' END,
  0,
  status IN ('new', 'open') AND created + interval '5 days' < now(),
  false,
  CASE WHEN answered IS NULL THEN 1 ELSE 2 END,
  ''
FROM full_row
"""

MESSAGES_SQL = """
INSERT INTO tickets_message (
  ticket_id, kind, sender_email, sender_name, channel, body_text, body_html, quoted_text,
  email_message_id, is_auto_reply, from_staff, created_at, author_id)
SELECT t.id, 'public', t.requester_email, t.requester_name, t.channel,
  t.subject || '. ' || array_to_string(ARRAY(
    SELECT (%(words)s::text[])[1 + ((t.id * k * 7919 + k) %% %(word_count)s)]
    FROM generate_series(1, 25) k), ' '),
  '', '', '', false, false, t.created_at, NULL
FROM tickets_ticket t WHERE t.reference BETWEEN %(first)s AND %(last)s
UNION ALL
SELECT t.id, 'public', '', '', 'console', array_to_string(ARRAY(
    SELECT (%(words)s::text[])[1 + ((t.id * k * 104729 + k) %% %(word_count)s)]
    FROM generate_series(1, 30) k), ' '),
  '', '', '', false, true, t.first_response_at, t.assignee_id
FROM tickets_ticket t
WHERE t.reference BETWEEN %(first)s AND %(last)s AND t.first_response_at IS NOT NULL
"""

# The search documents of a chunk, built in one statement (tickets.search
# builds them in Python, one ticket at a time, which would take hours here).
# The generated texts are lower-cased but not stemmed: the benchmark measures
# how the index is read, and its searches are prefixes of words as written.
SEARCH_SQL = """
INSERT INTO tickets_search (ticket_id, public_text, note_text)
SELECT t.id, lower(t.subject || ' ' ||
       coalesce((SELECT string_agg(m.body_text, ' ' ORDER BY m.id) FROM tickets_message m
                 WHERE m.ticket_id = t.id AND m.kind = 'public'), '')),
       lower(coalesce((SELECT string_agg(m.body_text, ' ' ORDER BY m.id) FROM tickets_message m
                 WHERE m.ticket_id = t.id AND m.kind = 'internal'), ''))
FROM tickets_ticket t
WHERE t.reference BETWEEN %(first)s AND %(last)s
ON CONFLICT (ticket_id) DO UPDATE
SET public_text = EXCLUDED.public_text, note_text = EXCLUDED.note_text
"""
TRIGGERS = []

HELPER_TABLES_SQL = """
DROP TABLE IF EXISTS bench_teachers, bench_competences, bench_experts;
CREATE TABLE bench_teachers AS
  SELECT (row_number() OVER (ORDER BY m.id) - 1) AS n, m.user_id, m.institution_id, i.region_id
  FROM accounts_membership m JOIN accounts_institution i ON i.id = m.institution_id
  WHERE i.code LIKE '9%%';
CREATE TABLE bench_competences AS
  SELECT (row_number() OVER (ORDER BY id) - 1) AS n, id, tier FROM tickets_competence;
CREATE TABLE bench_experts AS
  SELECT region_id, (row_number() OVER (PARTITION BY region_id ORDER BY id) - 1) AS n, user_id
  FROM accounts_agentprofile WHERE kind = 'expert' AND region_id IS NOT NULL;
"""


def grow_to(target: int) -> float:
    """Add generated tickets (with messages) until there are `target`; return seconds taken.

    The rows are made by the database itself (INSERT … SELECT over
    generate_series), in chunks: a million tickets take minutes, not hours.
    """
    from django.db import connection

    from tickets.models import Ticket

    existing = Ticket.objects.filter(reference__startswith=f"{PREFIX}-").count()
    if existing >= target:
        return 0.0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(HELPER_TABLES_SQL)
        cursor.execute("SELECT count(*) FROM bench_teachers")
        teachers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM bench_competences")
        competences = cursor.fetchone()[0]
        for table, trigger in TRIGGERS:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        try:
            number = existing
            while number < target:
                first, last = number + 1, min(target, number + 100_000)
                cursor.execute(
                    TICKETS_SQL,
                    {
                        "start": first,
                        "end": last,
                        "teachers": teachers,
                        "competences": competences,
                        "experts": EXPERTS_PER_REGION,
                        "subjects": SUBJECTS,
                        "subject_count": len(SUBJECTS),
                    },
                )
                cursor.execute(
                    MESSAGES_SQL,
                    {
                        "first": f"{PREFIX}-{first:07d}",
                        "last": f"{PREFIX}-{last:07d}",
                        "words": WORDS,
                        "word_count": len(WORDS),
                    },
                )
                cursor.execute(
                    SEARCH_SQL, {"first": f"{PREFIX}-{first:07d}", "last": f"{PREFIX}-{last:07d}"}
                )
                number = last
                print(f"  {number} tickets ({time.perf_counter() - started:.0f} s)", flush=True)
        finally:
            for table, trigger in TRIGGERS:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        cursor.execute("DROP TABLE bench_teachers, bench_competences, bench_experts")
        # Real tickets arrive in time order, so a month of them sits together
        # on disk; generated ones are scattered. Put them in that order.
        cursor.execute("CLUSTER tickets_ticket USING q_created")
        cursor.execute("ANALYZE tickets_ticket")
        cursor.execute("ANALYZE tickets_message")
        cursor.execute("ANALYZE tickets_search")
    # The rows above bypass the domain, and so the dashboard's counters: recount them.
    from tickets import counters

    counters.rebuild()
    return time.perf_counter() - started


def timed(client, url, runs, before=None):
    """Time GET url; return (wall percentiles in ms, SQL ms median, CPU ms median, queries).

    `before` runs ahead of every request, untimed (e.g. to empty a cache).
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    wall, sql, cpu = [], [], []
    for _ in range(runs):
        if before is not None:
            before()
        with CaptureQueriesContext(connection) as queries:
            start, start_cpu = time.perf_counter(), time.process_time()
            client.get(url)
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    return percentiles(wall), statistics.median(sql), statistics.median(cpu), len(queries)


def _users():
    """The people whose pages are timed: a busy expert, the national supervisor, a regional one."""
    from django.db.models import Count, Q

    from accounts.models import User
    from tickets.models import OPEN_STATUSES as OPEN

    # The expert of София-град with the most open requests: a busy desk.
    expert = (
        User.objects.filter(email__startswith="expert", email__endswith=".r22@bench.test")
        .annotate(open=Count("assigned_tickets", filter=Q(assigned_tickets__status__in=OPEN)))
        .order_by("-open")
        .first()
    )
    national = User.objects.get(email="national@bench.test")
    supervisor = User.objects.get(email="supervisor.r22@bench.test")
    return expert, national, supervisor


def _pages(expert, national) -> list[tuple[str, object, str]]:
    """The queue pages and the ticket page timed, as [(label, user, url)], in table order."""
    from django.test import Client
    from django.urls import reverse

    from tickets.models import Message, Ticket

    def queue(key, query=""):
        return reverse("console:queue_key", args=[key]) + (f"?{query}" if query else "")

    pages = [
        (label, expert, url)
        for label, url in [
            ("expert: my open requests (due)", queue("mine")),
            ("expert: unassigned in my region", queue("unassigned")),
            ("expert: due soon / breached", queue("due")),
            ("expert: everything I see (last update)", queue("all")),
            ("expert: search a common word „диплом“", queue("all", "q=диплом")),
            ("expert: search a rare word (one ticket's number)", queue("all", "q=7654")),
            (
                "expert: filter status=open, priority=high",
                queue("all", "status=open&priority=high"),
            ),
        ]
    ]
    # A deep page: follow the cursor 20 pages in, then time that page.
    client = Client()
    client.force_login(expert)
    url = queue("all")
    for _ in range(20):
        page = client.get(url)
        url = queue("all", page.context["next_query"])
    pages.append(("expert: page 21 of everything (keyset)", expert, url))
    pages += [
        ("national: everything (last update)", national, queue("all")),
        ("national: due soon / breached", national, queue("due")),
        ("national: search a common word „миграцията“", national, queue("all", "q=миграцията")),
    ]
    busy = (
        Ticket.objects.filter(reference__startswith=f"{PREFIX}-", region__code="22")
        .order_by("-id")
        .first()
    )
    for i in range(10 - Message.objects.filter(ticket=busy).count()):
        Message.objects.create(ticket=busy, channel="console", body_text=f"Съобщение {i}")
    url = reverse("console:ticket", args=[busy.reference])
    pages.append(("expert: ticket page (10+ messages)", expert, url))
    return pages


def measure(runs: int) -> list[tuple[str, dict, int]]:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from console.filters import queue_counts

    expert, national, supervisor = _users()
    clients = {}
    rows = []
    for label, user, url in _pages(expert, national):
        if label.startswith("expert: ticket page"):
            samples = []
            for _ in range(max(5, runs // 3)):
                cache.clear()
                start = time.perf_counter()
                queue_counts(national)
                samples.append((time.perf_counter() - start) * 1000)
            counted = percentiles(samples)
            rows.append(
                (
                    "national: queue counts (one aggregate, uncached)",
                    counted,
                    counted["median"],
                    0,
                    1,
                )
            )
        if user.pk not in clients:
            clients[user.pk] = Client()
            clients[user.pk].force_login(user)
        rows.append((label, *timed(clients[user.pk], url, runs)))

    for label, user in [("regional supervisor", supervisor), ("national supervisor", national)]:
        board = Client()
        board.force_login(user)
        url = reverse("console:dashboard")
        # Uncached: the figures are kept for a minute, the first view pays this.
        measured = timed(board, url, max(5, runs // 3), before=cache.clear)
        rows.append((f"dashboard, {label}, 30 days (uncached)", *measured))
    connection.close()
    return rows


# --- over HTTP, through the ASGI server --------------------------------------------------

# The server and this process sign sessions with the same key.
HTTP_SECRET = "bench-console-http-" + "k" * 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AsgiServer:
    """The project's ASGI server in a process of its own, started as production starts it.

    The command is scripts/run-scaled.sh's (uvicorn, one process, no lifespan,
    no access log of uvicorn's own); the settings are production's (no test
    mode, a connection pool, Redis for the cache and sessions), except HTTPS,
    which a proxy would end in front of it.
    """

    def __init__(self, database_url: str):
        self.port = _free_port()
        self.var = tempfile.TemporaryDirectory(prefix="bench-console-")
        env = {k: v for k, v in os.environ.items() if k not in ("HELPDESK_TESTING", "DEBUG")}
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=REDIS,
            SECRET_KEY=HTTP_SECRET,
            HTTPS="false",
            DATABASE_POOL_SIZE="4",
            HELPDESK_VAR_DIR=self.var.name,
            ALLOWED_HOSTS="127.0.0.1",
        )
        self.log = open(Path(self.var.name) / "server.log", "wb")
        command = [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--lifespan", "off", "--no-access-log"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        for _ in range(240):
            if self.process.poll() is not None:
                break
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health/live")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError("the ASGI server did not start; its log: " + self.log.name)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        self.var.cleanup()


def session_cookie(user) -> str:
    """A logged-in session for `user`, written to the database as a login would; its key.

    Made as an edu.mon.bg (OIDC) login leaves it: no second-factor code owed.
    The server finds it in the database on its first request and keeps it in
    Redis from then on (cached_db sessions).
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from helpdesk.middleware import LAST_SEEN_KEY

    assert settings.SECRET_KEY == HTTP_SECRET
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "accounts.backends.PasswordBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[LAST_SEEN_KEY] = int(time.time())
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def timed_http(server: AsgiServer, cookie: str, url: str, runs: int):
    """Time GET url over one keep-alive connection; (wall percentiles, server CPU ms per request)."""
    from urllib.parse import quote

    url = quote(url, safe="/?&=%+,;:")  # the searches' words in UTF-8, as a browser sends them
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Cookie": cookie, "Accept-Language": "bg", "Accept-Encoding": "identity"}

    def get():
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (url, response.status)

    for _ in range(3):
        get()
    wall = []
    cpu_before = server.cpu_seconds()
    for _ in range(runs):
        start = time.perf_counter()
        get()
        wall.append((time.perf_counter() - start) * 1000)
    cpu = (server.cpu_seconds() - cpu_before) * 1000 / runs
    conn.close()
    return percentiles(wall), cpu


def measure_http(runs: int, database_url: str) -> list:
    """Time the pages over HTTP; rows of (label, wall percentiles, server CPU ms, queries).

    The query count is the view's own, read through the test client (the
    server's run the same code).
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    expert, national, _supervisor = _users()
    pages = _pages(expert, national)
    counts, clients = {}, {}
    for label, user, url in pages:
        if user.pk not in clients:
            clients[user.pk] = Client()
            clients[user.pk].force_login(user)
        clients[user.pk].get(url)
        with CaptureQueriesContext(connection) as queries:
            clients[user.pk].get(url)
        counts[label] = len(queries)
    cookies = {user.pk: session_cookie(user) for user in (expert, national)}
    connection.close()
    server = AsgiServer(database_url)
    rows = []
    load = os.getloadavg()[0]
    try:
        for label, user, url in pages:
            stats, cpu = timed_http(server, cookies[user.pk], url, runs)
            rows.append((label, stats, cpu, counts[label]))
    finally:
        server.stop()
    # The machine's load (1-minute average) at the start and the end: the wall
    # times are only as good as the machine was quiet.
    rows.append(("load", {"median": load, "p95": os.getloadavg()[0]}, 0, 0))
    return rows


def database_for(size: int) -> str:
    """The database of one size: `<BENCH_CONSOLE_DB>_<size>`, made once.

    A new size starts as a copy of the largest smaller one (CREATE DATABASE
    … TEMPLATE, a file copy) and is topped up from there, so every size keeps
    its own data and can be measured again, in any order, without regenerating.
    """
    import psycopg

    name = f"{DB_NAME}_{size}"
    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        existing = {
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{DB_NAME}\\_%",)
            )
        }
        if name not in existing:
            smaller = [
                int(n.rsplit("_", 1)[1])
                for n in existing
                if n.rsplit("_", 1)[1].isdigit() and int(n.rsplit("_", 1)[1]) < size
            ]
            if smaller:
                template = f"{DB_NAME}_{max(smaller)}"
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            else:
                conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_BASE}/{name}"


def settle() -> None:
    """VACUUM (ANALYZE) the database, as autovacuum does on a live one.

    Rows loaded in bulk and never vacuumed have no visibility map, so every
    index-only scan (the dashboard's pending counts, the queue counts) also
    reads the table. A live database is vacuumed by autovacuum as rows come
    in; this machine's PostgreSQL runs with autovacuum off, so the benchmark
    does it. After the first time it skips the pages already all-visible.
    """
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  vacuumed in {time.perf_counter() - started:.1f} s", flush=True)


def child(size: int, runs: int, out: str, grow_only: bool, over_http: bool) -> int:
    """Fill (if needed) and measure one size in this process; results as JSON in `out`."""
    import json

    if over_http:
        os.environ["SECRET_KEY"] = HTTP_SECRET  # the server's, for the sessions made here
    database = database_for(size)
    setup_django(database=database, redis=False)
    from django.conf import settings
    from django.test.utils import setup_test_environment

    setup_test_environment()  # responses carry their template context
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
    settings.SECURE_SSL_REDIRECT = False
    seed_people()
    took = grow_to(size)
    if took:
        print(f"  generated in {took:.0f} s", flush=True)
    settle()
    if grow_only:
        rows = []
    elif over_http:
        rows = measure_http(runs, database)
    else:
        rows = measure(runs)
    Path(out).write_text(json.dumps(rows), encoding="utf-8")
    return 0


def _size(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def report_http(sizes, runs, results) -> None:
    """The HTTP figures as section "console-http" of docs/benchmarks.md."""
    loads = {size: results[size].pop()[1] for size in sizes}
    labels = [row[0] for row in results[sizes[0]]]
    lines = [
        "## Console over HTTP",
        "",
        f"`python bench/bench_console.py --http --sizes {','.join(map(str, sizes))} "
        f"--runs {runs}` — PostgreSQL, Redis, {machine()}.",
        "The project's ASGI server as production starts it (uvicorn, one process, a pool of",
        "4 connections, cache and sessions in Redis), a logged-in agent's sequential GETs",
        "over one keep-alive connection (`http.client`), the whole body read. In ms:",
        "wall median / p95 as the client sees it · the server process's CPU time per",
        "request (user + system, mean; what the machine's other load cannot inflate much).",
        "Queries: the view's own count (the same code, read through the test client).",
        "Load average of the machine (1 min, at the start / the end of each size): "
        + "; ".join(
            f"{loads[s]['median']:.1f} / {loads[s]['p95']:.1f} at {_size(s)}" for s in sizes
        )
        + " (2 cores: above 2, other processes had the CPU and the wall times grow with it).",
        "",
        "| page | " + " | ".join(f"{_size(s)} tickets" for s in sizes) + " | queries |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for index, label in enumerate(labels):
        cells = []
        for size in sizes:
            _label, stats, cpu, queries = results[size][index]
            cells.append(f"{stats['median']:.0f} / {stats['p95']:.0f} · {cpu:.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {queries} |")

    def summary(size, pick):
        rows = [r for r in results[size] if r[0].startswith("expert:") and "search" not in r[0]]
        return statistics.median(pick(r) for r in rows)

    lines += [
        "",
        "Median over the expert's queue pages without text search (wall median · p95 · CPU): "
        + "; ".join(
            f"{summary(s, lambda r: r[1]['median']):.0f} · {summary(s, lambda r: r[1]['p95']):.0f}"
            f" · {summary(s, lambda r: r[2]):.0f} ms at {_size(s)}"
            for s in sizes
        )
        + ". Target: median ≤ 30 ms, p95 ≤ 80 ms at 1 000 000 tickets, flat as data grows.",
    ]
    write_section("console-http", "\n".join(lines))


def main() -> int:
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated ticket counts")
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--grow-only", action="store_true", help="make the databases, measure nothing"
    )
    parser.add_argument(
        "--http", action="store_true", help="time over HTTP through the ASGI server"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.runs, args.out, args.grow_only, args.http)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())

    results = {}
    for size in sizes:
        print(f"== {size} tickets", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [sys.executable, __file__, "--child", str(size), "--runs", str(args.runs)]
            command += ["--out", out.name] + (["--grow-only"] if args.grow_only else [])
            command += ["--http"] if args.http else []
            if subprocess.run(command).returncode:
                return 1
            results[size] = json.loads(Path(out.name).read_text(encoding="utf-8"))
        for row in results[size]:
            label, stats, *figures, queries = row
            named = (
                f"server CPU {figures[0]:.1f} ms"
                if args.http
                else f"SQL {figures[0]:.1f} ms, CPU {figures[1]:.1f} ms"
            )
            print(
                f"  {label}: median {stats['median']:.1f} ms, p95 {stats['p95']:.1f} ms, "
                f"{named}, {queries} q",
                flush=True,
            )
    if args.grow_only:
        return 0
    if args.http:
        report_http(sizes, args.runs, results)
        return 0

    labels = [row[0] for row in results[sizes[0]]]
    header = (
        "| page | " + " | ".join(f"{s:,} tickets".replace(",", " ") for s in sizes) + " | queries |"
    )
    lines = [
        "## Console",
        "",
        f"`python bench/bench_console.py --sizes {args.sizes} --runs {args.runs}` — PostgreSQL "
        f"(local memory cache), one process, {machine()}.",
        "Per request through Django's test client (middleware, queries, template), in ms:",
        "wall median / p95 · SQL time (sum of the request's queries, median) · Python CPU",
        "(process time, median; what the machine's other load cannot inflate much).",
        "Generated data: ~6 % of tickets open, 1–2 messages each, 28 regions,",
        f"{INSTITUTIONS} institutions, {EXPERTS_PER_REGION} experts per region.",
        "",
        header,
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for index, label in enumerate(labels):
        cells = []
        for size in sizes:
            _label, stats, sql, cpu, queries = results[size][index]
            cells.append(f"{stats['median']:.0f} / {stats['p95']:.0f} · {sql:.1f} · {cpu:.0f}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {queries} |")

    def summary(size, index):
        values = [row[index] for row in results[size] if row[0].startswith("expert:")]
        if index == 1:
            values = [v["median"] for v in values]
        return statistics.median(values)

    lines += [
        "",
        "Median over the expert's queue pages (wall · SQL · CPU): "
        + "; ".join(
            f"{summary(s, 1):.0f} · {summary(s, 2):.1f} · {summary(s, 3):.0f} ms at {s:,}".replace(
                ",", " "
            )
            for s in sizes
        )
        + ". Target: queue median ≤ 30 ms at 1 000 000 tickets, flat as data grows.",
    ]
    write_section("console", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
