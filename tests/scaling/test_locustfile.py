"""The load test's locustfile (bench/locustfile.py) loads, and every page it asks for exists.

No timing here: the load test itself is a benchmark (bench/bench_load.py,
docs/benchmarks.md). locust patches the standard library with gevent when it
is imported, so the file is loaded in a process of its own.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve, reverse

from tests.testservers import require_service

ROOT = Path(__file__).resolve().parents[2]
LOADER = """
import json, re, runpy, sys
ns = runpy.run_path(sys.argv[1])
users = {
    name: sorted({t.__name__ for t in ns[name].tasks})
    for name in ("Agent", "Staff", "KbReader")
}
patterns = {k: v.pattern for k, v in ns.items() if isinstance(v, re.Pattern)}
print(json.dumps({"paths": ns["PATHS"], "users": users, "patterns": patterns}))
"""
SAMPLE = {"key": "mine", "ref": "26-000123", "lang": "bg", "slug": "diploma", "word": "x"}


@pytest.fixture(scope="module")
def locustfile():
    if importlib.util.find_spec("locust") is None:
        require_service("locust", "locust is not installed (requirements.lock pins it)")
    done = subprocess.run(
        [sys.executable, "-c", LOADER, str(ROOT / "bench" / "locustfile.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_kind_of_person_has_tasks(locustfile):
    assert locustfile["users"] == {
        "Agent": ["queue", "reply", "ticket"],
        "Staff": ["file", "request", "requests"],
        "KbReader": ["article", "index", "search"],
    }


def test_every_page_the_load_test_asks_for_resolves_to_a_view(locustfile):
    unresolved = []
    for name, template in locustfile["paths"].items():
        path = template.format(**SAMPLE).split("?")[0]
        try:
            resolve(path)
        except Resolver404:
            unresolved.append((name, path))
    assert unresolved == []


def test_the_links_it_follows_are_the_links_the_pages_print(locustfile):
    import re

    patterns = {k: re.compile(v) for k, v in locustfile["patterns"].items()}
    console = reverse("console:ticket", kwargs={"reference": SAMPLE["ref"]})
    portal = reverse("portal:ticket", kwargs={"reference": SAMPLE["ref"]})
    article = reverse("kb:article", kwargs={"lang": "bg", "slug": "diploma"})
    assert patterns["CONSOLE_TICKET"].findall(f'<a href="{console}">') == [SAMPLE["ref"]]
    assert patterns["PORTAL_TICKET"].findall(f'<a href="{portal}">') == [SAMPLE["ref"]]
    assert patterns["KB_ARTICLE"].findall(f'<a href="{article}">') == [article]
    token = '<input type="hidden" name="csrfmiddlewaretoken" value="abc123">'
    assert patterns["CSRF_FIELD"].findall(token) == ["abc123"]
