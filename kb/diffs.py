"""Line diffs between two versions of an article's text, as plain data.

Templates render the lines with auto-escaping, so a diff of text holding
HTML or script shows it as text and never runs it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: kind is "same", "added", "removed" or "gap"."""

    kind: str
    text: str


def diff_lines(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """Return the lines that differ between `old` and `new` with `context` lines around.

    Runs of unchanged lines beyond the context become one "gap" line.
    An empty list means the texts are equal.
    """
    old_lines = (old or "").replace("\r\n", "\n").splitlines()
    new_lines = (new or "").replace("\r\n", "\n").splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    out: list[DiffLine] = []
    for group in matcher.get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("same", line) for line in old_lines[i1:i2])
                continue
            if tag in ("replace", "delete"):
                out.extend(DiffLine("removed", line) for line in old_lines[i1:i2])
            if tag in ("replace", "insert"):
                out.extend(DiffLine("added", line) for line in new_lines[j1:j2])
    return out


def field_changes(old: dict, new: dict) -> dict[str, list[DiffLine]]:
    """Return {field: diff_lines} for each field whose text differs between two dicts."""
    return {
        name: diff_lines(old.get(name, ""), new.get(name, ""))
        for name in new
        if (old.get(name) or "") != (new.get(name) or "")
    }
