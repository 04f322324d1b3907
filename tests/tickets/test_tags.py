"""Tags on requests: normalised, bounded, with history; an administrator's merge and rename."""

import pytest

from helpdesk.errors import DomainError, NotAllowed
from tickets import actions
from tickets.models import TAGS_PER_TICKET, Tag, TicketEvent, TicketTag

pytestmark = pytest.mark.django_db


def names(ticket):
    return sorted(t.name for t in ticket.tags.all())


def test_a_tag_is_trimmed_matched_without_case_and_shown_as_first_written(cast, make_ticket):
    first, second = make_ticket(), make_ticket()
    actions.change_tags(ticket=first, actor=cast.expert_x, add=["  Зрелост   2026 "])
    actions.change_tags(ticket=second, actor=cast.expert_x, add=["зрелост 2026"])
    assert Tag.objects.count() == 1
    tag = Tag.objects.get()
    assert tag.name == "Зрелост 2026" and tag.key == "зрелост 2026"
    assert names(first) == names(second) == ["Зрелост 2026"]


def test_each_change_is_one_history_line_with_who_and_what(cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["vendor-x", "Спешно"])
    actions.change_tags(ticket=ticket, actor=cast.expert_x, remove=["VENDOR-X"])
    lines = list(TicketEvent.objects.filter(ticket=ticket, kind="tag").order_by("id"))
    assert [(e.old_value, e.new_value) for e in lines] == [
        ("", "vendor-x, Спешно"),
        ("vendor-x", ""),
    ]
    assert all(e.actor == cast.expert_x for e in lines)
    assert names(ticket) == ["Спешно"]


def test_adding_a_tag_already_there_writes_nothing(cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["a"])
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["A"])
    assert TicketEvent.objects.filter(ticket=ticket, kind="tag").count() == 1


@pytest.mark.parametrize("bad", ["", "   ", "x" * 41, "a,b", "bell\x07", 5])
def test_bad_tags_are_refused_and_nothing_is_written(cast, make_ticket, bad):
    ticket = make_ticket()
    with pytest.raises(DomainError):
        actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["good", bad])
    assert not Tag.objects.exists() and not TicketTag.objects.exists()


def test_a_request_holds_a_bounded_number_of_tags(cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(
        ticket=ticket, actor=cast.expert_x, add=[f"t{i}" for i in range(TAGS_PER_TICKET)]
    )
    with pytest.raises(DomainError):
        actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["one more"])
    assert ticket.tags.count() == TAGS_PER_TICKET


def test_only_agents_who_see_the_request_tag_it(cast, make_ticket):
    ticket = make_ticket()
    with pytest.raises(NotAllowed):
        actions.change_tags(ticket=ticket, actor=cast.teacher_a, add=["x"])
    with pytest.raises(NotAllowed):
        actions.change_tags(ticket=ticket, actor=cast.expert_y, add=["x"])  # another region
    assert not TicketTag.objects.exists()


def test_set_tags_makes_the_list_exactly_what_was_given(cast, make_ticket):
    ticket = make_ticket()
    actions.set_tags(ticket=ticket, actor=cast.expert_x, names=["a", "b"])
    actions.set_tags(ticket=ticket, actor=cast.expert_x, names=["B", "c"])
    assert names(ticket) == ["b", "c"]


def test_bulk_tags_many_requests_and_skips_those_refused(cast, make_ticket):
    mine, other = make_ticket(), make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    result = actions.bulk_update(
        tickets=[mine, other], actor=cast.expert_x, action="tag", value="зрелост, Vendor"
    )
    assert result.done == [mine.reference] and [r for r, _ in result.failed] == [other.reference]
    assert names(mine) == ["Vendor", "зрелост"] and names(other) == []
    actions.bulk_update(tickets=[mine], actor=cast.expert_x, action="untag", value="vendor")
    assert names(mine) == ["зрелост"]


def test_an_administrator_merges_tags_and_history_keeps_the_old_names(cast, make_ticket):
    a, b, both = make_ticket(), make_ticket(), make_ticket()
    actions.change_tags(ticket=a, actor=cast.expert_x, add=["matura"])
    actions.change_tags(ticket=b, actor=cast.expert_x, add=["зрелост"])
    actions.change_tags(ticket=both, actor=cast.expert_x, add=["matura", "зрелост"])
    matura, zrelost = Tag.objects.get(key="matura"), Tag.objects.get(key="зрелост")
    with pytest.raises(NotAllowed):
        actions.merge_tags(sources=[matura], target=zrelost, actor=cast.expert_x)
    moved = actions.merge_tags(sources=[matura], target=zrelost, actor=cast.admin)
    assert moved == 2
    assert names(a) == names(b) == names(both) == ["зрелост"]
    assert not Tag.objects.filter(key="matura").exists()
    # The line written when "matura" was put on `a` still says so; the merge added one.
    lines = [(e.old_value, e.new_value) for e in a.events.filter(kind="tag").order_by("id")]
    assert lines == [("", "matura"), ("matura", "зрелост")]


def test_an_administrator_renames_a_tag_but_not_onto_another_one(cast, make_ticket):
    ticket = make_ticket()
    actions.change_tags(ticket=ticket, actor=cast.expert_x, add=["matura", "other"])
    tag = Tag.objects.get(key="matura")
    actions.rename_tag(tag=tag, name="Матура", actor=cast.admin)
    assert names(ticket) == ["other", "Матура"]
    with pytest.raises(DomainError):
        actions.rename_tag(tag=tag, name="OTHER", actor=cast.admin)
    assert Tag.objects.get(pk=tag.pk).name == "Матура"
