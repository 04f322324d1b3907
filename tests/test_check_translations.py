"""scripts/check_translations.py: untranslated and fuzzy entries fail the check."""

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_translations.py"
spec = importlib.util.spec_from_file_location("check_translations", SCRIPT)
checker = importlib.util.module_from_spec(spec)
sys.modules["check_translations"] = checker  # dataclasses look their module up
spec.loader.exec_module(checker)

HEADER = """# A tiny catalogue.
msgid ""
msgstr ""
"Language: bg\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
"""

COMPLETE = (
    HEADER
    + """
#: app/views.py:1
msgid "Request"
msgstr "Заявка"

#: app/views.py:2
#, python-format
msgid ""
"Your request %(ref)s has been "
"received."
msgstr ""
"Вашата заявка %(ref)s е "
"получена."

#: app/views.py:3
#, python-format
msgid "%(n)s request"
msgid_plural "%(n)s requests"
msgstr[0] "%(n)s заявка"
msgstr[1] "%(n)s заявки"

#~ msgid "Old"
#~ msgstr ""
"""
)


def _write(tmp_path, text):
    path = tmp_path / "django.po"
    path.write_text(text, encoding="utf-8")
    return path


def test_complete_catalogue_passes(tmp_path, capsys):
    path = _write(tmp_path, COMPLETE)
    assert checker.main([str(path)]) == 0
    assert capsys.readouterr().out == ""


def test_one_empty_msgstr_fails(tmp_path, capsys):
    path = _write(tmp_path, COMPLETE.replace('msgstr "Заявка"', 'msgstr ""'))
    assert checker.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "untranslated: 'Request'" in out
    assert out.count("\n") == 1


def test_one_empty_plural_form_fails(tmp_path, capsys):
    path = _write(tmp_path, COMPLETE.replace('msgstr[1] "%(n)s заявки"', 'msgstr[1] ""'))
    assert checker.main([str(path)]) == 1
    assert "untranslated: '%(n)s request'" in capsys.readouterr().out


def test_one_fuzzy_entry_fails(tmp_path, capsys):
    fuzzy = COMPLETE.replace(
        "#: app/views.py:1\n", '#: app/views.py:1\n#, fuzzy\n#| msgid "Requests"\n'
    )
    path = _write(tmp_path, fuzzy)
    assert checker.main([str(path)]) == 1
    out = capsys.readouterr().out
    assert "fuzzy: 'Request'" in out
    assert out.count("\n") == 1


def test_the_project_catalogues_are_complete(capsys):
    assert checker.main([]) == 0, capsys.readouterr().out
