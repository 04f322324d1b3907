"""Run the benchmarks and write their figures to docs/benchmarks.md (`make bench`).

Every benchmark runs with the arguments its figures in docs/benchmarks.md
were measured with: the console at 10k, 100k and 1M tickets through the
test client and over HTTP, filing in one process and over HTTP against
run-scaled, mail with one process and with the poller handing over to two
workers, the load test, the side by side with django-helpdesk. The first
run generates the data (the 1M console database takes a few minutes; it is
kept for later runs).

    python bench/run.py                 # everything, in this order
    python bench/run.py console filing  # only the runs whose script names contain these
    python bench/run.py --list          # what would run
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = "10000,100000,1000000"

RUNS = [
    ["bench_console.py", "--sizes", SIZES, "--runs", "20"],
    ["bench_console.py", "--http", "--sizes", SIZES, "--runs", "30"],
    ["bench_filing.py", "-n", "300"],
    ["bench_filing.py", "--http", "-n", "1000"],
    ["bench_mail_ingest.py", "-n", "600"],
    ["bench_mail_ingest.py", "-n", "1200", "--workers", "2"],
    ["bench_mail_ingest.py", "-n", "1200", "--workers", "3"],
    ["bench_mail_ingest.py", "-n", "600", "--sqlite"],
    ["bench_live.py"],
    ["bench_load.py"],
    ["bench_directory.py"],
    ["bench_similarity.py"],
    ["bench_peer.py"],
]


def selected(names: list[str]) -> list[list[str]]:
    if not names:
        return RUNS
    return [run for run in RUNS if any(name in run[0] for name in names)]


def main(argv: list[str]) -> int:
    listed = {run[0] for run in RUNS}
    forgotten = sorted(p.name for p in HERE.glob("bench_*.py") if p.name not in listed)
    if forgotten:
        print("bench/run.py does not run: " + ", ".join(forgotten), file=sys.stderr)
        return 2
    names = [a for a in argv if not a.startswith("-")]
    runs = selected(names)
    if "--list" in argv:
        for run in runs:
            print(" ".join(run))
        return 0
    failed = []
    for run in runs:
        print(f"== {' '.join(run)}", flush=True)
        script, *args = run
        if subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE.parent).returncode:
            failed.append(" ".join(run))
    if failed:
        print("failed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
