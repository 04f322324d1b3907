"""A celery worker for bench_mail_ingest.py --workers that reports what it spent.

The ordinary worker (celery -A helpdesk worker --pool=solo -Q QUEUE), plus a
count of its database queries and its CPU time, written as JSON to STATS_FILE
when it is ready and after every task, so the benchmark can take the
difference over the run.

    python bench/mail_worker.py QUEUE STATS_FILE
"""

import json
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def main() -> None:
    queue_name, stats_file = sys.argv[1], Path(sys.argv[2])
    import django

    django.setup()
    from celery.signals import task_postrun, worker_ready
    from django.db.backends.signals import connection_created

    from helpdesk.celery import app

    counted = {"queries": 0, "tasks": 0}

    def count(execute, sql, params, many, context):
        counted["queries"] += 1
        return execute(sql, params, many, context)

    def on_connection(sender, connection, **kwargs):
        if count not in connection.execute_wrappers:
            connection.execute_wrappers.append(count)

    def write(**kwargs):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        data = {**counted, "cpu": usage.ru_utime + usage.ru_stime, "pid": os.getpid()}
        temporary = stats_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(stats_file)

    def after_task(**kwargs):
        counted["tasks"] += 1
        write()

    connection_created.connect(on_connection, weak=False)
    worker_ready.connect(write, weak=False)
    task_postrun.connect(after_task, weak=False)
    app.worker_main(
        ["worker", "--pool=solo", "-Q", queue_name, "-l", "WARNING", "--without-gossip"]
        + ["--without-mingle", "--without-heartbeat", "-n", f"{queue_name}-{os.getpid()}@%h"]
    )


if __name__ == "__main__":
    main()
