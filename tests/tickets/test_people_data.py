"""Watchers where other features meet them: merge, personal-data export and anonymising."""

import pytest

from tickets import actions, personal_data
from tickets.models import OutboundMail, TicketEvent, Watcher

pytestmark = pytest.mark.django_db


def recipients(ticket, kind="reply"):
    return {a for m in OutboundMail.objects.filter(ticket=ticket, kind=kind) for a in m.recipients}


def test_a_merge_moves_the_requester_and_the_watchers_once_each(cast, make_ticket):
    target = make_ticket()
    source = make_ticket(actor=cast.director_a)
    actions.add_watcher(source, actor=cast.expert_x, email="parent@example.org")
    actions.add_watcher(source, actor=cast.expert_x, user=cast.teacher_a)  # target's requester
    actions.add_watcher(target, actor=cast.expert_x, email="parent@example.org")
    actions.merge(source=source, target=target, actor=cast.expert_x)
    on_target = {(w.address, w.source) for w in target.watchers.all()}
    assert on_target == {("parent@example.org", "console"), (cast.director_a.email, "merge")}
    added = TicketEvent.objects.filter(ticket=target, kind="watcher").values_list(
        "new_value", flat=True
    )
    assert sorted(added) == sorted(["parent@example.org", cast.director_a.email])
    actions.add_message(ticket=target, actor=cast.expert_x, channel="console", text="Готово.")
    assert recipients(target) == {cast.teacher_a.email, cast.director_a.email, "parent@example.org"}


def test_the_export_names_what_the_person_follows(cast, make_ticket):
    ticket = make_ticket()
    followed = make_ticket(actor=cast.director_a)
    actions.add_watcher(ticket, actor=cast.expert_x, email="parent@example.org")
    actions.add_watcher(followed, actor=cast.expert_x, user=cast.teacher_a)
    data, _files = personal_data.collect(cast.teacher_a)
    assert data["requests"][0]["copies_to"] == ["parent@example.org"]
    assert [f["request"] for f in data["following"]] == [followed.reference]
    assert data["following"][0]["added_by"] == cast.expert_x.email


def test_anonymising_turns_a_copied_address_into_the_silent_account(cast, make_ticket):
    one, two = make_ticket(actor=cast.director_a), make_ticket(actor=cast.director_a)
    Watcher.objects.create(ticket=one, email=cast.teacher_b.email, source="mail")
    Watcher.objects.create(ticket=two, email=cast.teacher_b.email, source="mail")
    Watcher.objects.create(ticket=two, user=cast.teacher_b, source="console")
    counts = personal_data.anonymise(cast.teacher_b, actor=cast.admin)
    assert counts["copies"] == 1
    assert not Watcher.objects.filter(email__iexact="teacher.b@edu.mon.bg").exists()
    assert [w.user_id for w in Watcher.objects.all()] == [cast.teacher_b.pk, cast.teacher_b.pk]
    actions.add_message(ticket=one, actor=cast.expert_x, channel="console", text="Готово.")
    cast.teacher_b.refresh_from_db()
    assert cast.teacher_b.email not in recipients(one)
    assert recipients(one) == {cast.director_a.email}
