#!/usr/bin/env python3
"""Fail when a Bulgarian message catalogue has an untranslated or fuzzy entry.

An entry is untranslated when its msgstr (or any msgstr[n] of a plural
entry) is empty; the header (msgid "" without msgctxt) is exempt. A fuzzy
entry carries the ``fuzzy`` flag in its ``#,`` comment: msgmerge's guess,
which Django does not use and which is often wrong. Obsolete entries
(``#~``) are ignored. Pure Python, so no gettext tools are needed.

    scripts/check_translations.py [PO_FILE ...]   # default: the bg catalogues
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOGUES = [
    ROOT / "locale" / "bg" / "LC_MESSAGES" / "django.po",
    ROOT / "locale" / "bg" / "LC_MESSAGES" / "djangojs.po",
]


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def msgid(self) -> str:
        return self.fields.get("msgid", "")

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and "msgctxt" not in self.fields

    @property
    def is_untranslated(self) -> bool:
        strings = [v for k, v in self.fields.items() if k.startswith("msgstr")]
        return not strings or any(v == "" for v in strings)


def _unquote(text: str) -> str:
    text = text.strip()
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        raise ValueError(f"not a quoted string: {text!r}")
    return ast.literal_eval(text)


def parse(text: str) -> list[Entry]:
    """Return the (non-obsolete) entries of a .po file's text."""
    entries: list[Entry] = []
    entry: Entry | None = None
    keyword: str | None = None
    pending_flags: set[str] = set()
    pending_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            entry, keyword = None, None
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None:  # a comment after the strings starts a new entry
                entry, keyword = None, None
            if not pending_line:
                pending_line = number
            if line.startswith("#,"):
                pending_flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            continue
        if line.startswith('"'):
            if entry is None or keyword is None:
                raise ValueError(f"line {number}: a string outside an entry")
            entry.fields[keyword] += _unquote(line)
            continue
        word, _, rest = line.partition(" ")
        if not (
            word in ("msgctxt", "msgid", "msgid_plural", "msgstr") or word.startswith("msgstr[")
        ):
            raise ValueError(f"line {number}: cannot read {raw!r}")
        if entry is None or (word in ("msgctxt", "msgid") and "msgid" in entry.fields):
            entry = Entry(line=pending_line or number, flags=pending_flags)
            entries.append(entry)
            pending_flags, pending_line = set(), 0
        keyword = word
        entry.fields[keyword] = _unquote(rest)
    return entries


def problems(path: Path) -> list[str]:
    """Return one line per untranslated or fuzzy entry of the catalogue at `path`."""
    found = []
    for entry in parse(path.read_text(encoding="utf-8")):
        if entry.is_header:
            if "fuzzy" in entry.flags:
                found.append(f"{path}:{entry.line}: fuzzy header")
            continue
        what = []
        if entry.is_untranslated:
            what.append("untranslated")
        if "fuzzy" in entry.flags:
            what.append("fuzzy")
        if what:
            found.append(f"{path}:{entry.line}: {', '.join(what)}: {entry.msgid!r}")
    return found


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or DEFAULT_CATALOGUES
    found = []
    for path in paths:
        if not path.exists():
            found.append(f"{path}: missing")
            continue
        found.extend(problems(path))
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'} to translate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
