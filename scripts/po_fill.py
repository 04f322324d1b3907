#!/usr/bin/env python3
"""Fill Bulgarian translations from a JSON file: {"msgid": "msgstr", ...}.

    python scripts/po_fill.py translations.json [locale/bg/LC_MESSAGES/django.po]

Entries named in the file get their msgstr and lose the fuzzy flag; a
plural entry takes a list of forms. Run `make makemessages` first so the
msgids exist. Prints what it could not find.
"""

import json
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    table = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "locale/bg/LC_MESSAGES/django.po"
    catalogue = polib.pofile(str(target), wrapwidth=79)
    by_id = {entry.msgid: entry for entry in catalogue}
    missing = []
    for msgid, text in table.items():
        entry = by_id.get(msgid)
        if entry is None:
            missing.append(msgid)
            continue
        if entry.msgid_plural:
            forms = text if isinstance(text, list) else [text, text]
            entry.msgstr_plural = dict(enumerate(forms))
        else:
            entry.msgstr = text
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
        entry.previous_msgid = None
        entry.previous_msgid_plural = None
        entry.previous_msgctxt = None
    catalogue.save(str(target))
    # Wrapped as msgmerge wraps, so `make makemessages` leaves the file as it is.
    subprocess.run(["msgcat", "-o", str(target), str(target)], check=True)
    for msgid in missing:
        print(f"not in {target.name}: {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
