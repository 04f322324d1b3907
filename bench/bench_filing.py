"""Filing throughput: requests filed per second through the portal's write path.

Two figures: the service alone (tickets.actions.create_ticket: validation,
reference, routing with agent locks, SLA, history) and the whole HTTP POST of
the portal's filing form through Django's test client (session, CSRF, form,
rate limit, templates). Both on PostgreSQL with Redis, in one process.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, setup_django, write_section


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=400)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse

    from accounts.models import Institution, Membership, User
    from helpdesk.celery import app
    from tickets import actions
    from tickets.models import Competence

    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Sending is the worker's job; count only what the request does.
    app.conf.broker_url = "memory://"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.HELPDESK["RATE_PER_PERSON_HOUR"] = 10**9
    settings.HELPDESK["RATE_PER_INSTITUTION_HOUR"] = 10**9

    from django.core.management import call_command

    if not Institution.objects.filter(code="2206409").exists():
        call_command("seed_demo", institutions=300, tickets=0, verbosity=0)
    teacher = User.objects.get(email="teacher@school.demo")
    membership = Membership.objects.get(user=teacher)
    competence = Competence.objects.get(code="diplomas")

    started = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        for i in range(args.n):
            actions.create_ticket(
                actor=teacher,
                institution=membership.institution,
                competence=competence,
                subject=f"Диплома {i}",
                text="Сканираното изображение не се приема.",
                notify=False,
            )
    service_rate = args.n / (time.perf_counter() - started)
    service_queries = len(ctx.captured_queries) / args.n

    http_line = "portal form not available"
    try:
        url = reverse("portal:new")
    except NoReverseMatch:
        url = None
    if url:
        client = Client()
        client.force_login(teacher)
        client.get(url)
        started = time.perf_counter()
        ok = 0
        for i in range(args.n):
            response = client.post(
                url,
                {
                    "institution": membership.institution.pk,
                    "competence": competence.pk,
                    "subject": f"Заявка през портала {i}",
                    "description": "Не мога да прикача диплома.",
                },
            )
            ok += response.status_code in (302, 303)
        http_rate = args.n / (time.perf_counter() - started)
        http_line = f"{http_rate:.0f} requests/s ({ok}/{args.n} accepted)"

    write_section(
        "filing",
        f"""## Filing requests

`python bench/bench_filing.py -n {args.n}` — PostgreSQL + Redis, one process, {machine()}.

| path | throughput |
|---|---|
| `actions.create_ticket` (validation, reference, routing with locks, SLA, history) | {service_rate:.0f} requests/s, {service_queries:.1f} queries each |
| portal form, HTTP POST through the whole Django stack | {http_line} |

Target: ≥ 100 requests/s.""",
    )


if __name__ == "__main__":
    main()
