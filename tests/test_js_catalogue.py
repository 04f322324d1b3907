"""The scripts' strings reach the JavaScript catalogue, in Bulgarian."""

import re
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
CALL = re.compile(r"""\bt\(\s*"((?:[^"\\]|\\.)*)"\s*[,)]""")


def test_every_t_string_of_the_scripts_is_translated_to_bulgarian():
    catalogue = {
        e.msgid: e.msgstr for e in polib.pofile(str(ROOT / "locale/bg/LC_MESSAGES/djangojs.po"))
    }
    scripts = [p for p in ROOT.glob("*/static/js/*.js")] + list(ROOT.glob("static/js/*.js"))
    found = {
        m.group(1) for path in scripts for m in CALL.finditer(path.read_text(encoding="utf-8"))
    }
    assert "Previous" in found  # the console's previous / next line
    missing = sorted(s for s in found if not catalogue.get(s))
    assert missing == []
