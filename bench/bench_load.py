"""Load test: 200 simulated people against `make run-scaled`, on loopback.

    BENCH_REDIS=redis://127.0.0.1:6379/4 python bench/bench_load.py

What it does:

1. creates and migrates its own PostgreSQL database (helpdesk_bench_load),
   fills it with the demo data (seed_demo: 300 institutions, 400 directors
   and teachers, 1,000 requests, the knowledge base) plus 60 regional
   experts, and logs 60 agents and 100 staff in (a session each, written the
   way the test client's force_login writes it);
2. starts scripts/run-scaled.sh itself on that database and a free port: two
   uvicorn processes behind scripts/proxy.py, two celery workers, beat, the
   mailbox poller;
3. runs locust headless (bench/locustfile.py: agents, staff, anonymous
   knowledge-base readers, 3 : 5 : 2) for 90 s, 200 users started 20 a
   second, while pg_stat_activity is sampled every 0.5 s and the CPU time of
   every process is summed by kind;
4. writes the figures into docs/benchmarks.md, section "load".

Every answer other than the expected one counts as an error, a 429 included:
each simulated person is a different person, so the per-person filing limit
is not what is measured. The filing counters a previous run left in Redis
are cleared first (bench/scaled.py clear_rate_counters).
"""

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PG_BASE, REDIS, ROOT, ensure_database, machine, setup_django, write_section
from scaled import (
    ConnectionWatch,
    RunScaled,
    clear_rate_counters,
    cpu_of,
    cpu_seconds,
    free_port_run,
    postgres_backends,
    session_cookie,
)

DB = "helpdesk_bench_load"
# The experts' competences: everything but central support's technical faults.
EXPERT_CODES = [
    "diplomas",
    "login",
    "delegation",
    "duplicates",
    "data_transfer",
    "ediary",
    "activity_docs",
    "institutions",
    "general",
]
PAGES = [
    "console: queue",
    "console: ticket",
    "console: reply",
    "portal: my requests",
    "portal: request",
    "portal: form",
    "portal: file",
    "kb: index",
    "kb: article",
    "kb: search",
]


def prepare(agents: int, staff: int, tickets: int) -> dict:
    """Demo data, extra experts, sessions; return what the locustfile reads."""
    from django.core.management import call_command

    from accounts.models import AgentProfile, Institution, Membership, User
    from accounts.regions import ensure_regions
    from tickets.catalogue import ensure_competences

    if not Institution.objects.filter(code="2206409").exists():
        print(f"seeding the demo data with {tickets} requests …", flush=True)
        call_command("seed_demo", institutions=300, tickets=tickets, verbosity=0)
    regions = ensure_regions()
    competences = ensure_competences()
    experts = [competences[c] for c in EXPERT_CODES if c in competences]
    region_codes = ["22", "16", "03"]
    agent_users = []
    for n in range(agents):
        user, created = User.objects.get_or_create(
            email=f"expert{n:03d}@load.bench", defaults={"full_name": f"Експерт {n:03d}"}
        )
        if created:
            profile = AgentProfile.objects.create(
                user=user,
                tier="regional",
                kind="expert",
                region=regions[region_codes[n % len(region_codes)]],
                capacity=30,
            )
            profile.competences.set(experts)
        agent_users.append(user)
    memberships = list(
        Membership.objects.filter(user__email__endswith="@staff.demo")
        .select_related("user")
        .order_by("pk")[:staff]
    )
    if len(memberships) < staff:
        raise SystemExit(f"only {len(memberships)} staff in the demo data, {staff} asked for")
    return {
        "agents": [{"session": session_cookie(u)} for u in agent_users],
        "staff": [
            {"session": session_cookie(m.user), "institution": m.institution_id}
            for m in memberships
        ],
        "competences": [c.pk for c in competences.values() if c.is_active],
    }


def read_stats(prefix: Path) -> tuple[dict, dict]:
    rows = {}
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = row
    failures = {}
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.exists():
        with open(failures_csv, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                key = f"{row['Name']}: {row['Error']}"
                failures[key] = failures.get(key, 0) + int(row["Occurrences"])
    return rows, failures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=int, default=20)
    parser.add_argument("--time", default="90s")
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--db", default=DB)
    args = parser.parse_args()

    # 3 : 5 : 2, as the locustfile's weights share the users out.
    agents, staff = -(-args.users * 3 // 10), -(-args.users * 5 // 10)
    setup_django(database=ensure_database(args.db))
    from django.conf import settings
    from django.db import connections

    people = prepare(agents, staff, args.tickets)
    work = ROOT / "var" / "bench-load"
    work.mkdir(parents=True, exist_ok=True)
    people_file = work / "people.json"
    people_file.write_text(json.dumps(people))
    redis_url = settings.REDIS_URL or REDIS
    cleared = clear_rate_counters(redis_url)
    print(
        f"{len(people['agents'])} agents, {len(people['staff'])} staff logged in; "
        f"{cleared} old filing counters cleared",
        flush=True,
    )

    import psutil
    import psycopg

    admin = f"{PG_BASE}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
    from tickets.models import Ticket

    tickets_before = Ticket.objects.count()

    # The benchmark's own session would count as one of the helpdesk's.
    connections.close_all()
    port = free_port_run()
    scaled = RunScaled(
        database=args.db,
        port=port,
        pg_base=PG_BASE,
        redis_url=redis_url,
        log=work / "run-scaled.log",
    )
    print(f"starting run-scaled on {scaled.url} …", flush=True)
    prefix = work / "locust"
    with scaled:
        kinds = scaled.processes()
        watch = ConnectionWatch(admin, args.db)
        watch.start()
        pg_start = {p.pid: cpu_of(p) for p in postgres_backends(admin, args.db)}
        cpu_start = cpu_seconds(kinds)
        started = time.monotonic()
        locust = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "locust"),
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                args.time,
                "--host",
                scaled.url,
                "--csv",
                str(prefix),
                "--only-summary",
                "--stop-timeout",
                "10",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env={**scaled.env, "LOAD_PEOPLE": str(people_file)},
        )
        locust_process = psutil.Process(locust.pid)
        locust_cpu = 0.0
        while locust.poll() is None:
            try:
                times = locust_process.cpu_times()
                locust_cpu = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(0.5)
        wall = time.monotonic() - started
        # A backend already running at the start counts only its share since.
        pg_cpu = sum(
            cpu_of(p) - pg_start.get(p.pid, 0.0) for p in postgres_backends(admin, args.db)
        )
        cpu_end = cpu_seconds(kinds)
        watch.stop()
    cpu = {kind: cpu_end[kind] - cpu_start.get(kind, 0.0) for kind in cpu_end}
    cpu["postgres"] = pg_cpu
    cpu["locust"] = locust_cpu
    tickets_after = Ticket.objects.count()
    from mailbridge.models import Mailbox

    mailboxes = Mailbox.objects.filter(is_active=True).count()
    stats, failures = read_stats(prefix)
    filed = tickets_after - tickets_before
    report(args, stats, failures, watch, max_connections, mailboxes, cpu, wall, filed)


def report(args, stats, failures, watch, max_connections, mailboxes, cpu, wall, filed) -> None:
    total = stats.get("Aggregated", {})
    requests = int(total.get("Request Count", 0))
    errors = int(total.get("Failure Count", 0))
    lines = []
    for name in PAGES:
        row = stats.get(name)
        if not row:
            continue
        lines.append(
            f"| {name} | {int(row['Request Count'])} | {int(row['Failure Count'])} "
            f"| {float(row['50%']):.0f} | {float(row['95%']):.0f} | {float(row['99%']):.0f} |"
        )
    # docs/scaling.md's sizing with scripts/run-scaled.sh's numbers: two web
    # processes with DATABASE_POOL_SIZE=4, two workers of concurrency 2 (each
    # also a main process), beat, the poller (2, measured with no mailbox
    # active, and one more per mailbox thread).
    pool = 4
    bound = 2 * pool + 2 * (2 + 1) + 1 + (mailboxes + 2)
    apps = ", ".join(f"{app} {n}" for app, n in sorted(watch.max_by_app.items()))
    busy = ", ".join(
        f"{kind} {100 * seconds / wall:.0f} %"
        for kind, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])
        if seconds > 0.05
    )
    failure_lines = "\n".join(f"- {what}: {n}" for what, n in sorted(failures.items())) or "- none"
    write_section(
        "load",
        f"""## Load test: 200 people against run-scaled

`BENCH_REDIS=redis://127.0.0.1:6379/4 python bench/bench_load.py --users {args.users} --spawn-rate {args.spawn_rate} --time {args.time}`
— locust ({args.users} users, {args.spawn_rate} started a second, {args.time}) against `make run-scaled`
(two uvicorn processes behind scripts/proxy.py, two celery workers, beat, poller; PostgreSQL + Redis),
everything on loopback, {machine()}. Users 3 : 5 : 2: agents (queues, requests, replies),
institution staff (their requests, filing through the form), anonymous knowledge-base readers.

| page | requests | errors | median ms | p95 ms | p99 ms |
|---|---|---|---|---|---|
{chr(10).join(lines)}
| **all** | {requests} | {errors} | {float(total.get("50%", 0)):.0f} | {float(total.get("95%", 0)):.0f} | {float(total.get("99%", 0)):.0f} |

| measure | value |
|---|---|
| throughput over the run (ramp-up included) | {float(total.get("Requests/s", 0)):.0f} requests/s |
| errors (any unexpected status, 429 included) | {errors} of {requests} ({100 * errors / max(1, requests):.2f} %) |
| requests filed through the portal form | {filed} |
| most PostgreSQL sessions on the database at once (sampled every 0.5 s, {watch.samples} samples) | {watch.max_total} |
| … by process (application_name) | {apps} |
| bound (docs/scaling.md): 2 web × pool 4 + 2 workers × (2 + 1) + beat + poller (2 + {mailboxes} mailbox threads) | {bound}; PostgreSQL `max_connections` {max_connections} |
| CPU by process kind (100 % = one core of 2) | {busy} |

Failures:
{failure_lines}""",
    )


if __name__ == "__main__":
    main()
