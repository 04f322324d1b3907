"""No 5xx on any input: every GET parameter of every page, as every role, with hostile values.

Hypothesis draws a person, a set of query parameters (the names the views
read, and unknown ones) and hostile values: huge and negative numbers, far
dates, NUL and control characters, lone surrogates and invalid UTF-8 bytes,
very long strings. Path arguments are drawn the same way where the URL
takes a number or a reference. Any answer of 500 or more fails the test.
"""

import re
import urllib.parse

import pytest
from django.test import Client
from django.urls import NoReverseMatch, get_resolver, reverse
from django.urls.resolvers import URLResolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

PARAMETER_NAMES = [
    "q", "status", "priority", "competence", "region", "institution", "channel", "assignee",
    "created_from", "created_to", "due_from", "due_to", "has_attachments", "cursor",
    "page_size", "after", "from", "to", "inline", "lang", "page", "public", "queue", "s",
    "scope", "sort", "thanks", "token", "next", "format", "ordering", "id", "updated_since",
]  # fmt: skip
HOSTILE_TEXT = [
    "9999-12-31", "0001-01-01", "99999-01-01", "2026-02-30", "-1", "0", "1e309",
    "99999999999999999999999", "-99999999999999999999", "NaN", "inf", "", " ", "\x00",
    "a\x00b", "\ud800", "%", "%00", "../../etc/passwd", "//evil.example/x", "javascript:alert(1)",
    "<script>alert(1)</script>", "' OR 1=1 --", "\u202e", "ä" * 3000, "1" * 5000,
    "26-000001", "26-", "me", "none", "true", "[]", "{}", "2020-01-01T00:00:00+23:59",
]  # fmt: skip

values = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from(HOSTILE_TEXT),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=40),
)
names = st.one_of(
    st.sampled_from(PARAMETER_NAMES),
    st.sampled_from(PARAMETER_NAMES),
    st.sampled_from(PARAMETER_NAMES),
    st.text(min_size=1, max_size=10),
)
queries = st.dictionaries(names, st.lists(values, min_size=1, max_size=2), max_size=3)
numbers = st.one_of(
    st.sampled_from([0, 1, 2, 2**31, 2**63, 2**64, 10**25]),
    st.integers(min_value=0, max_value=10**30),
)
references = st.one_of(
    st.sampled_from(["26-000001", "99-999999", "00-0000000000000000000000"]),
    st.from_regex(r"\A\d{2}-\d{6,12}\Z"),
)
ROLES = [
    None, "teacher_a", "director_a", "teacher_b", "expert_x", "central", "supervisor_x",
    "supervisor_all", "admin",
]  # fmt: skip


def _walk(patterns, prefix="", namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif pattern.name:
            yield (
                (f"{namespace}:{pattern.name}" if namespace else pattern.name),
                prefix + str(pattern.pattern),
            )


def _url_names():
    names = []
    for name, route in _walk(get_resolver().url_patterns):
        if name.startswith("admin:") or name.startswith("oidc") or name == "set_language":
            continue
        names.append((name, route))
    return names


URLS = _url_names()


ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>")
SAMPLES = {
    "key": st.sampled_from(["all", "mine", "none", "x" * 60]),
    "slug": st.sampled_from(["delegation", "no-such-article", "a" * 80]),
    "lang": st.sampled_from(["bg", "en"]),
    "reference": references,
}


def _path(name: str, route: str, draw) -> str:
    """Reverse `name` with a drawn value for each parameter its route takes."""
    kwargs = {}
    for match in ROUTE_PARAMETER.finditer(route):
        converter, parameter = match.group(1), match.group(2) or match.group(3)
        if parameter in SAMPLES:
            kwargs[parameter] = draw(SAMPLES[parameter])
        elif converter in ("int", "id") or parameter in ("pk", "message_id"):
            kwargs[parameter] = draw(numbers)
        elif parameter == "name" and "csv" in route:
            kwargs[parameter] = draw(st.sampled_from(["backlog", "sla", "load", "nothing"]))
        else:
            kwargs[parameter] = draw(st.sampled_from(["file.pdf", "x", "a" * 50]))
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        # A route narrower than the drawn value (e.g. references of 6–10 digits):
        # the router would answer 404 anyway; probe the parameters on a valid path.
        safe = {"reference": "26-000001", "key": "all", "slug": "delegation", "lang": "bg"}
        return reverse(name, kwargs={k: safe.get(k, 1) for k in kwargs})


def _encode(query: dict) -> str:
    pairs = []
    for key, items in query.items():
        for item in items:
            pairs.append(
                urllib.parse.quote(key.encode("utf-8", "surrogatepass"), safe="")
                + "="
                + urllib.parse.quote(item.encode("utf-8", "surrogatepass"), safe="")
            )
    return "&".join(pairs)


@pytest.fixture
def clients(cast, make_ticket):
    make_ticket()  # there is something to find and to show
    result = {}
    for role in ROLES:
        client = Client(raise_request_exception=False)
        if role is not None:
            client.force_login(getattr(cast, role))
        result[role] = client
    return result


@pytest.mark.slow
@pytest.mark.parametrize(("name", "route"), URLS, ids=[name for name, _route in URLS])
def test_no_server_error_on_hostile_query_parameters(clients, name, route):
    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), role=st.sampled_from(ROLES), query=queries)
    def probe(data, role, query):
        path = _path(name, route, data.draw)
        raw = _encode(query)
        # Invalid UTF-8 on the wire, not only odd characters.
        if data.draw(st.booleans()):
            raw += ("&" if raw else "") + "q=%ff%fe%c0%af"
        response = clients[role].get(f"{path}?{raw}")
        assert response.status_code < 500, (path, raw, role, response.status_code)

    probe()


# The values that overflow date arithmetic or 64-bit keys, and bytes that are
# not UTF-8, in each date, number and cursor parameter of the pages that read
# them: one request each, every time.
FILTERED = [
    ("console:queue", {}),
    ("console:queue_key", {"key": "all"}),
    ("console:counts", {}),
    ("console:dashboard", {}),
    ("console:report", {"name": "backlog"}),
    ("api:ticket-list", {}),
    ("portal:list", {}),
]
NUMERIC = [
    "created_from", "created_to", "due_from", "due_to", "from", "to", "after",
    "assignee", "region", "page_size", "cursor", "page", "competence",
]  # fmt: skip
DANGEROUS = ["9999-12-31", "0001-01-01", "99999999999999999999999", "-1", "%ff%fe"]


@pytest.mark.parametrize(("name", "kwargs"), FILTERED, ids=[n for n, _k in FILTERED])
def test_dangerous_values_in_every_date_and_number_parameter(clients, name, kwargs):
    path = reverse(name, kwargs=kwargs)
    failures = []
    for role in ("supervisor_all", "teacher_a", "expert_x"):
        for parameter in NUMERIC:
            for value in DANGEROUS:
                query = (
                    f"{parameter}={value}"
                    if "%" in value
                    else urllib.parse.urlencode({parameter: value})
                )
                status = clients[role].get(f"{path}?{query}").status_code
                if status >= 500:
                    failures.append((role, query, status))
    assert failures == []


def test_an_id_beyond_64_bits_is_a_404_not_an_overflow(clients):
    for url in ("/portal/attachments/99999999999999999999/", "/console/rows/99999999999999999999/"):
        assert clients["supervisor_all"].get(url).status_code == 404
