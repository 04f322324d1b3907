"""Live update latency: from a ticket's commit to the event on an agent's WebSocket.

Starts a real ASGI server (uvicorn) on PostgreSQL and Redis, logs an agent in
over a real WebSocket, files requests from this process and measures the time
from each commit to the moment the event arrives on the socket.
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REDIS, machine, percentiles, setup_django, write_section

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=60)
    args = parser.parse_args()
    setup_django()
    import websockets
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from accounts.models import Institution, Membership, User
    from helpdesk.celery import app
    from tickets import actions
    from tickets.models import Competence

    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"
    if not Institution.objects.filter(code="2206409").exists():
        call_command("seed_demo", institutions=300, tickets=0, verbosity=0)
    agent = User.objects.get(email="expert.sofia@ruo.demo")
    teacher = User.objects.get(email="teacher@school.demo")
    institution = Membership.objects.get(user=teacher).institution
    competence = Competence.objects.get(code="diplomas")

    session = SessionStore()
    session[SESSION_KEY] = str(agent.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = agent.get_session_auth_hash()
    session.create()

    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": os.environ.get("REDIS_URL", REDIS),
        "HELPDESK_TESTING": "true",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "helpdesk.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        latencies = asyncio.run(
            measure(
                websockets,
                port,
                session.session_key,
                args.n,
                lambda i: file(actions, teacher, institution, competence, i),
            )
        )
    finally:
        server.terminate()
        server.wait(10)
    stats = percentiles([x * 1000 for x in latencies])
    write_section(
        "live",
        f"""## Live updates

`python bench/bench_live.py -n {args.n}` — uvicorn + Redis channel layer + PostgreSQL, {machine()}.
Time from a ticket's commit (in another process) to its event arriving on an agent's WebSocket.

| measure | value |
|---|---|
| median | {stats["median"]:.1f} ms |
| p95 | {stats["p95"]:.1f} ms |
| events | {stats["n"]} |

Target: ≤ 300 ms after the commit.""",
    )


def file(actions, teacher, institution, competence, i):
    ticket = actions.create_ticket(
        actor=teacher,
        institution=institution,
        competence=competence,
        subject=f"Жива заявка {i}",
        text="Проверка на живите обновления.",
        notify=False,
    )
    return ticket.pk, time.perf_counter()


async def measure(websockets, port, session_key, n, create):
    url = f"ws://127.0.0.1:{port}/ws/live/"
    headers = {"Cookie": f"sessionid={session_key}", "Origin": f"http://127.0.0.1:{port}"}
    latencies = []
    async with websockets.connect(url, additional_headers=headers) as ws:
        await asyncio.sleep(0.3)
        for i in range(n):
            ticket_id, committed = await asyncio.to_thread(create, i)
            while True:
                raw = await asyncio.wait_for(ws.recv(), timeout=5)
                event = json.loads(raw)
                if event.get("type") == "ticket" and event.get("ticket_id") == ticket_id:
                    latencies.append(time.perf_counter() - committed)
                    break
    return latencies


if __name__ == "__main__":
    main()
