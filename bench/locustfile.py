"""The load test's people (locust): agents, institution staff, knowledge-base readers.

Run through bench/bench_load.py, which prepares the database, logs the people
in and writes their session keys to the file named by LOAD_PEOPLE:

    {"agents": [{"session": "..."}],
     "staff": [{"session": "...", "institution": 12}],
     "competences": [3, 4, 5]}

Three kinds of user, 3 : 5 : 2 (60, 100 and 40 of 200):

* Agent — browses the console's queues, opens requests found there, answers
  some of them (a public reply, through the reply form with its CSRF token).
* Staff — reads the list of their institution's requests and opens them,
  now and then files a new one through the portal form (the form first, for
  the CSRF token; then the POST, expected to redirect to the new request).
* KbReader — anonymous: the knowledge base's index, articles and search.

Each locust user is a different person (no two share a session), so the
per-person filing limit (tickets/ratelimit.py) is not what is measured. Any
answer other than the expected one — a 429 included — is a failure.
Request names (the `name=` below) group the figures by page type.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re

from locust import HttpUser, between, task

SESSION_COOKIE = os.environ.get("LOAD_SESSION_COOKIE", "sessionid")
# Every page the simulated people ask for, by the name its figures go under
# (tests/scaling/test_locustfile.py checks that each resolves to a view).
PATHS = {
    "console: queue": "/console/queue/{key}/",
    "console: ticket": "/console/tickets/{ref}/",
    "console: reply": "/console/tickets/{ref}/reply/",
    "portal: my requests": "/portal/",
    "portal: request": "/portal/requests/{ref}/",
    "portal: form": "/portal/new/",
    "portal: file": "/portal/new/",
    "kb: index": "/kb/",
    "kb: article": "/kb/{lang}/{slug}/",
    "kb: search": "/kb/search/?q={word}",
}
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CONSOLE_TICKET = re.compile(r'href="/console/tickets/([^/"]+)/"')
PORTAL_TICKET = re.compile(r'href="/portal/requests/([^/"]+)/"')
KB_ARTICLE = re.compile(r'href="(/kb/(?:bg|en)/[\w-]+/)"')
QUEUES = ["mine", "unassigned", "due", "waiting", "all"]
KB_WORDS = ["диплома", "дневник", "парола", "ученик", "делегиране", "документи"]
SUBJECTS = [
    "Не мога да прикача сканирана диплома",
    "Нов учител няма достъп до НЕИСПУО",
    "Ученик е записан два пъти",
    "Липсват данни след прехвърлянето",
    "Модулът за документи дава грешка",
]
REPLIES = [
    "Благодаря, ще проверим и ще Ви отговорим до края на деня.",
    "Моля, изпратете снимка на екрана с грешката и точния час.",
    "Изпратих Ви инструкцията от базата знания.",
]


def _load_people() -> dict:
    path = os.environ.get("LOAD_PEOPLE")
    if not path:
        return {"agents": [], "staff": [], "competences": []}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


PEOPLE = _load_people()
_agents = iter(PEOPLE["agents"])
_staff = iter(PEOPLE["staff"])
_serial = itertools.count(1)


def _next_person(people, kind: str) -> dict:
    try:
        return next(people)
    except StopIteration:
        raise RuntimeError(f"more {kind} users than prepared sessions") from None


def csrf_token(html: str) -> str | None:
    found = CSRF_FIELD.search(html)
    return found.group(1) if found else None


class _LoggedIn(HttpUser):
    abstract = True

    def _log_in(self, person: dict) -> None:
        self.client.cookies.set(SESSION_COOKIE, person["session"])

    def _post_form(self, page_url: str, post_url: str, data: dict, *, page: str, action: str):
        """GET the form page (its CSRF token), then POST; a redirect is success."""
        with self.client.get(page_url, name=page, catch_response=True) as response:
            token = csrf_token(response.text) if response.status_code == 200 else None
            if token is None:
                response.failure(f"no form (HTTP {response.status_code})")
                return None
        with self.client.post(
            post_url,
            data={**data, "csrfmiddlewaretoken": token},
            headers={"Referer": self.host + page_url},
            name=action,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code in (302, 303):
                response.success()
                return response.headers.get("Location")
            response.failure(f"HTTP {response.status_code} instead of a redirect")
        return None


class Agent(_LoggedIn):
    weight = 3
    wait_time = between(1, 3)

    def on_start(self):
        self._log_in(_next_person(_agents, "agent"))
        self.refs: list[str] = []

    @task(4)
    def queue(self):
        key = random.choice(QUEUES)
        response = self.client.get(PATHS["console: queue"].format(key=key), name="console: queue")
        if response.status_code == 200:
            found = CONSOLE_TICKET.findall(response.text)
            if found:
                self.refs = found[:30]

    @task(3)
    def ticket(self):
        if not self.refs:
            return self.queue()
        ref = random.choice(self.refs)
        self.client.get(PATHS["console: ticket"].format(ref=ref), name="console: ticket")

    @task(1)
    def reply(self):
        if not self.refs:
            return self.queue()
        ref = random.choice(self.refs)
        self._post_form(
            PATHS["console: ticket"].format(ref=ref),
            PATHS["console: reply"].format(ref=ref),
            {"kind": "public", "text": random.choice(REPLIES)},
            page="console: ticket",
            action="console: reply",
        )


class Staff(_LoggedIn):
    weight = 5
    wait_time = between(2, 5)

    def on_start(self):
        self.person = _next_person(_staff, "staff")
        self._log_in(self.person)
        self.refs: list[str] = []

    @task(3)
    def requests(self):
        response = self.client.get(PATHS["portal: my requests"], name="portal: my requests")
        if response.status_code == 200:
            self.refs = PORTAL_TICKET.findall(response.text)[:20]

    @task(2)
    def request(self):
        if not self.refs:
            return self.requests()
        ref = random.choice(self.refs)
        self.client.get(PATHS["portal: request"].format(ref=ref), name="portal: request")

    @task(1)
    def file(self):
        location = self._post_form(
            PATHS["portal: form"],
            PATHS["portal: file"],
            {
                "institution": self.person["institution"],
                "competence": random.choice(PEOPLE["competences"]),
                "subject": f"{random.choice(SUBJECTS)} ({next(_serial)})",
                "description": "Опитах няколко пъти днес, резултатът е същият.",
            },
            page="portal: form",
            action="portal: file",
        )
        if location:
            self.client.get(location, name="portal: request")


class KbReader(HttpUser):
    weight = 2
    wait_time = between(1, 3)

    def on_start(self):
        self.articles: list[str] = []

    @task(2)
    def index(self):
        response = self.client.get(PATHS["kb: index"], name="kb: index")
        if response.status_code == 200:
            self.articles = KB_ARTICLE.findall(response.text)[:40] or self.articles

    @task(4)
    def article(self):
        if not self.articles:
            return self.index()
        self.client.get(random.choice(self.articles), name="kb: article")

    @task(2)
    def search(self):
        self.client.get(PATHS["kb: search"].format(word=random.choice(KB_WORDS)), name="kb: search")
