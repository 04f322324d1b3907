"""The console's markup names every control (WCAG 4.1.2, 1.3.1) and keeps references whole.

Read from the HTML, without a browser: each <select> and text field has a
<label for> pointing at it (or an aria-label), no id is used twice on a page
(the bulk form's fields once reused the filter form's id_status, id_priority
and id_assignee), and a reference inside a sentence never breaks at its hyphen.
"""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


class Controls(HTMLParser):
    """Collect ids, label targets and the form controls of a page."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[dict] = []
        self.open_labels = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "label":
            self.open_labels += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag in ("select", "textarea") or (
            tag == "input" and attrs.get("type", "text") not in ("hidden", "submit")
        ):
            self.controls.append({**attrs, "_tag": tag, "_in_label": self.open_labels > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels = max(0, self.open_labels - 1)

    def unnamed(self) -> list[str]:
        return [
            f"{c['_tag']} name={c.get('name')} id={c.get('id')}"
            for c in self.controls
            if not (
                c.get("aria-label")
                or c.get("aria-labelledby")
                or c["_in_label"]
                or c.get("id") in self.label_for
            )
        ]

    def duplicates(self) -> list[str]:
        return sorted({i for i in self.ids if self.ids.count(i) > 1})


def _read(html: str) -> Controls:
    parser = Controls()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("key", ["mine", "all", "unassigned"])
def test_queue_page_names_every_control_and_repeats_no_id(login, cast, make_ticket, key):
    make_ticket(subject="Дипломата не се качва")
    html = login(cast.supervisor_x).get(reverse("console:queue_key", args=[key])).content.decode()
    page = _read(html)
    assert page.unnamed() == []
    assert page.duplicates() == []
    # The bulk bar's fields have ids of their own, and their labels point there.
    for name in ("action", "assignee", "status", "priority", "text"):
        assert f'id="bulk_{name}"' in html and f'for="bulk_{name}"' in html


def test_ticket_page_names_every_control_and_repeats_no_id(login, cast, make_ticket):
    ticket = make_ticket(subject="Дипломата не се качва")
    html = login(cast.expert_x).get(reverse("console:ticket", args=[ticket.reference]))
    page = _read(html.content.decode())
    assert page.unnamed() == []
    assert page.duplicates() == []
    assert 'for="id_competence"' in html.content.decode()
    assert 'for="id_tier"' in html.content.decode()


def test_a_reference_in_a_sentence_never_breaks(login, cast, make_ticket):
    target = make_ticket(subject="Дипломата не се качва")
    source = make_ticket(subject="Пак дипломата")
    response = login(cast.expert_x).post(
        reverse("console:merge", args=[source.reference]), {"reference": target.reference}
    )
    heading = re.search(r'<h1 id="confirm-title">(.*?)</h1>', response.content.decode()).group(1)
    assert f'<span class="ref">{source.reference}</span>' in heading
    assert f'<span class="ref">{target.reference}</span>' in heading
