"""Shared set-up for benchmarks: a PostgreSQL database of their own, and the
figures written into docs/benchmarks.md section by section."""

import os
import platform
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DB", "helpdesk_bench")
PG_BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/14")
DOC = ROOT / "docs" / "benchmarks.md"


def ensure_database(name: str = BENCH_DB) -> str:
    """Create the benchmark database if needed; return its URL."""
    import psycopg

    with psycopg.connect(f"{PG_BASE}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_BASE}/{name}"


def setup_django(*, database: str | None = None, redis: bool = True) -> None:
    """Point the settings at the benchmark database (migrated) and start Django."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database or ensure_database()
    if redis:
        os.environ.setdefault("REDIS_URL", REDIS)
    os.environ.setdefault("HELPDESK_TESTING", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {"median": statistics.median(ordered), "p95": p95, "n": len(ordered)}


def machine() -> str:
    cpus = os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cpus} cores, Python {platform.python_version()}"


def write_section(name: str, body: str) -> None:
    """Replace (or add) the section `name` of docs/benchmarks.md."""
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else _HEADER
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = (
        pattern.sub(lambda _m: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    DOC.write_text(text)
    print(body)


_HEADER = """# Benchmarks

Written by `make bench` (`bench/run.py`); each section is replaced when its
benchmark runs again. Timings come from this 2-core machine, shared and noisy:
read them as orders of magnitude. Pass/fail tests never depend on them (query
counts are tested instead).
"""
