"""No 5xx on any POST: every form of every page, as every role, with hostile fields.

The companion of test_hostile_parameters (query strings): Hypothesis draws a
person, a route (with a real reference where it takes one, so the view gets
past its 404 to the body) and a form of the field names the views read, plus
unknown ones, with hostile values (huge numbers, far dates, NUL, lone
surrogates, 5,000-character strings, lists where one value is expected).
Any answer of 500 or more fails. CSRF is checked by its own tests; here the
client skips it so that every request reaches the view.
"""

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.test_hostile_parameters import HOSTILE_TEXT, ROLES, URLS, _path, numbers

pytestmark = pytest.mark.django_db

FIELD_NAMES = [
    "action", "add", "add_tags", "all", "announcement", "assign", "assignee", "attachments",
    "body", "channel", "code", "comment", "competence", "confirm", "confirm_stale",
    "custom_fields", "delegate", "description", "detail", "email", "ends_at", "field_values",
    "follow", "from_mail", "helpful", "id", "ids", "institution", "is_incident", "kind",
    "last_message_id", "macro", "minutes", "name", "new_status", "next", "note", "open",
    "other", "period", "priority", "q", "query", "queue", "reason", "reference", "region",
    "remove", "remove_tags", "reply_kind", "requester", "requester_email", "requester_name",
    "reroute", "rights", "score", "signature_bg", "signature_en", "similar_token",
    "starts_at", "status", "subject", "tags", "text", "tier", "title", "to", "to_children",
    "token", "user", "username", "valid_from", "valid_until", "with_children",
]  # fmt: skip

values = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.sampled_from(HOSTILE_TEXT),
    numbers.map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=40),
)
names = st.one_of(
    st.sampled_from(FIELD_NAMES), st.sampled_from(FIELD_NAMES), st.text(min_size=1, max_size=10)
)
forms = st.dictionaries(names, st.lists(values, min_size=1, max_size=3), max_size=6)


def _clean(text: str) -> str:
    # The test client encodes the form as UTF-8; a lone surrogate goes as "?".
    return text.encode("utf-8", "replace").decode("utf-8")


@pytest.fixture
def clients(cast, make_ticket):
    ticket = make_ticket()
    result = {}
    for role in ROLES:
        client = Client(raise_request_exception=False, enforce_csrf_checks=False)
        if role is not None:
            client.force_login(getattr(cast, role))
        result[role] = client
    return ticket, result


@pytest.mark.slow
@pytest.mark.parametrize(("name", "route"), URLS, ids=[name for name, _route in URLS])
def test_no_server_error_on_hostile_forms(clients, name, route):
    ticket, by_role = clients

    @settings(
        max_examples=6,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data(), role=st.sampled_from(ROLES), form=forms, real=st.booleans())
    def probe(data, role, form, real):
        path = _path(name, route, data.draw)
        if real and "<reference>" in route:
            path = _path(name, route, lambda _strategy: ticket.reference)
        body = {_clean(key): [_clean(v) for v in items] for key, items in form.items()}
        response = by_role[role].post(path, body)
        assert response.status_code < 500, (path, body, role, response.status_code)

    probe()
