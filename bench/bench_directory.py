"""Directory import: 5,000 institutions and 150,000 memberships from CSV files.

Generates the two files (every line valid, ~30 people per institution, some
of them at two institutions), then times `import_directory` through
call_command: institutions, memberships into an empty helpdesk (everything
created), the same files again (everything unchanged), and a dry run of a
memberships file where 1 % of the roles changed. Each run counts its queries.

On the embedded SQLite (a scratch file, WAL, as `make run` uses it) always;
on PostgreSQL too when DATABASE_URL is set (a database of its own on that
server, dropped and created afresh). Each engine runs in a child process.

    python bench/bench_directory.py [--institutions 5000] [--memberships 150000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, write_section

TARGET_SECONDS = 180
PG_DB_NAME = "helpdesk_bench_directory"
ROLES = ["director", "deputy_director", "ict_lead", "teacher", "secretary"]


def generate(folder: Path, institutions: int, memberships: int) -> dict[str, Path]:
    """Write institutions.csv, memberships.csv and memberships-changed.csv; return their paths."""
    codes = []
    lines = ["code,name,kind,region,municipality,email_domains"]
    for i in range(institutions):
        region = i % 28 + 1
        code = f"{region}{i:05d}"
        codes.append(code)
        kind = "kindergarten" if i % 3 == 0 else "school"
        lines.append(f"{code},Институция № {i},{kind},{region:02d},Община {region},i{i}.edu.bg")
    paths = {"institutions": folder / "institutions.csv"}
    paths["institutions"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = []
    for j in range(memberships):
        # Every tenth line is a person already listed, at a second institution.
        person = j - 1 if j % 10 == 9 else j
        rows.append(
            [
                f"person{person}@edu.mon.bg",
                f"Служител Номер {person}",
                codes[(j * 7) % len(codes)],
                ROLES[j % len(ROLES)],
            ]
        )
    header = "email;full_name;institution_code;role"  # semicolons, as Excel writes them
    paths["memberships"] = folder / "memberships.csv"
    paths["memberships"].write_text(
        header + "\n" + "\n".join(";".join(r) for r in rows) + "\n", encoding="utf-8-sig"
    )
    for j in range(0, len(rows), 100):
        rows[j][3] = ROLES[(ROLES.index(rows[j][3]) + 1) % len(ROLES)]
    paths["changed"] = folder / "memberships-changed.csv"
    paths["changed"].write_text(
        header + "\n" + "\n".join(";".join(r) for r in rows) + "\n", encoding="utf-8-sig"
    )
    return paths


def pg_database(url: str) -> str:
    """Drop and create a database of our own on the server of `url`; return its URL."""
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DB_NAME}"')
    return urlunsplit(parts._replace(path=f"/{PG_DB_NAME}"))


def child(engine: str, folder: Path) -> None:
    """Run the imports in this process on `engine`; print the figures as JSON."""
    if engine == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        (folder / "var").mkdir(exist_ok=True)
        os.environ["HELPDESK_VAR_DIR"] = str(folder / "var")
    else:
        os.environ["DATABASE_URL"] = pg_database(os.environ["DATABASE_URL"])
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("HELPDESK_TESTING", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import CommandError, call_command
    from django.db import connection

    call_command("migrate", verbosity=0)

    class Counter:
        def __init__(self):
            self.count = 0

        def __call__(self, execute, sql, params, many, context):
            self.count += 1
            return execute(sql, params, many, context)

    def timed(*args) -> dict:
        out, counter = _Sink(), Counter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            try:
                call_command("import_directory", *args, "--progress", "never", stdout=out)
            except CommandError:
                pass
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "queries": counter.count, "summary": out.last_json()}

    paths = {
        name: folder / f"{name.replace('changed', 'memberships-changed')}.csv"
        for name in ("institutions", "memberships", "changed")
    }
    figures = {
        "institutions": timed("institutions", str(paths["institutions"])),
        "memberships": timed("memberships", str(paths["memberships"])),
        "institutions_again": timed("institutions", str(paths["institutions"])),
        "memberships_again": timed("memberships", str(paths["memberships"])),
        "dry_run": timed("memberships", str(paths["changed"]), "--dry-run"),
    }
    print("RESULT " + json.dumps(figures))


class _Sink:
    def __init__(self):
        self.lines = []

    def write(self, text):
        self.lines.extend(text.splitlines())

    def flush(self):
        pass

    def last_json(self) -> dict:
        return json.loads(self.lines[-1])


def run_child(engine: str, folder: Path) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--folder", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    sys.stderr.write(result.stdout + result.stderr)
    raise SystemExit(f"the {engine} run failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--institutions", type=int, default=5000)
    parser.add_argument("--memberships", type=int, default=150000)
    parser.add_argument("--child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.folder))
        return

    folder = Path(tempfile.mkdtemp(prefix="bench-directory-"))
    generate(folder, args.institutions, args.memberships)
    engines = {"SQLite (embedded, WAL)": run_child("sqlite", folder)}
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        engines["PostgreSQL"] = run_child("postgres", folder)

    def cell(figure: dict) -> str:
        return f"{figure['seconds']:.1f} s · {figure['queries']} queries"

    names = list(engines)
    rows = [
        ("institutions, empty helpdesk (all created)", "institutions"),
        ("memberships, empty helpdesk (all created, people too)", "memberships"),
        ("institutions again (all unchanged)", "institutions_again"),
        ("memberships again (all unchanged)", "memberships_again"),
        ("memberships --dry-run, 1 % of the roles changed", "dry_run"),
    ]
    lines = [
        "## Directory import",
        "",
        f"`python bench/bench_directory.py --institutions {args.institutions} "
        f"--memberships {args.memberships}` — `import_directory` through call_command, "
        f"one process, {machine()}. Generated files: every line valid; the memberships "
        "file in semicolons with a BOM, a tenth of its lines a person already listed "
        "at a second institution. Batches of 1,000 lines, one transaction each.",
        "",
        "| run | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(cell(engines[n][key]) for n in names) + " |")
    for name in names:
        total = engines[name]["institutions"]["seconds"] + engines[name]["memberships"]["seconds"]
        met = "met" if total <= TARGET_SECONDS else "not met"
        lines.append("")
        lines.append(
            f"{name}: {args.institutions:,} institutions + {args.memberships:,} memberships "
            f"into an empty helpdesk in {total:.0f} s. Target: under {TARGET_SECONDS} s — {met}."
        )
    sample = engines[names[0]]
    lines.append("")
    lines.append(
        "Counts of the first run: "
        + json.dumps(sample["memberships"]["summary"])
        + "; of the dry run: "
        + json.dumps(sample["dry_run"]["summary"])
        + "."
    )
    write_section("directory", "\n".join(lines))


if __name__ == "__main__":
    main()
