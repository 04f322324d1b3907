"""Line diffs of article revisions. Pure tests: run with ``-p no:django``."""

from kb.diffs import DiffLine, diff_lines, field_changes


def test_equal_texts_have_no_diff():
    assert diff_lines("a\nb", "a\r\nb") == []


def test_changed_line_is_removed_then_added():
    assert diff_lines("a\nb\nc", "a\nB\nc") == [
        DiffLine("same", "a"),
        DiffLine("removed", "b"),
        DiffLine("added", "B"),
        DiffLine("same", "c"),
    ]


def test_far_apart_changes_are_separated_by_a_gap():
    old = "\n".join(str(n) for n in range(30))
    new = old.replace("2\n", "two\n", 1).replace("27", "twenty-seven")
    kinds = [line.kind for line in diff_lines(old, new, context=1)]
    assert "gap" in kinds
    assert kinds.count("same") == 4


def test_field_changes_lists_only_changed_fields():
    changes = field_changes(
        {"title": "Стар", "summary": "same", "body": ""},
        {"title": "Нов", "summary": "same", "body": None},
    )
    assert list(changes) == ["title"]
