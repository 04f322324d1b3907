"""Smoke test of bench/bench_peer.py: its arguments, its mail translation and its
SQLite generator at a tiny size. No timings are asserted (docs/benchmarks.md has them)."""

import email
import importlib.util
import json
import sqlite3
import subprocess
import sys
from email.header import Header, decode_header
from email.mime.text import MIMEText
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_peer", ROOT / "bench" / "bench_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_peer = _load()


def test_arguments_default_to_the_published_comparison():
    args = bench_peer.parse_args([])
    assert (args.tickets, args.rounds, args.emails) == (100_000, 3, 300)
    args = bench_peer.parse_args(["--tickets", "50", "--rounds", "1", "--no-write"])
    assert (args.tickets, args.rounds, args.no_write) == (50, 1, True)


@pytest.mark.parametrize("argv", [["--tickets", "10"], ["--rounds", "0"], ["--requests", "0"]])
def test_arguments_out_of_range_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_peer.parse_args(argv)
    assert "error" in capsys.readouterr().err


def _subject(raw: bytes) -> str:
    parts = decode_header(email.message_from_bytes(raw)["Subject"])
    return "".join(p.decode(c or "ascii") if isinstance(p, bytes) else p for p, c in parts)


def test_a_reply_to_the_peers_ticket_names_our_ticket_of_the_same_number():
    plain = MIMEText("body", "plain", "utf-8")
    plain["Subject"] = "Re: [region-01-1234] Printer offline #7"
    assert _subject(bench_peer.translate_mail(plain.as_bytes(), 100_000)) == (
        "Re: [HD#90-0001234] Printer offline #7"
    )
    cyrillic = MIMEText("тяло", "plain", "windows-1251")
    cyrillic["Subject"] = Header("Re: [region-01-42] Не работает принтер", "windows-1251")
    translated = bench_peer.translate_mail(cyrillic.as_bytes(), 100_000)
    assert _subject(translated) == "Re: [HD#90-0000042] Не работает принтер"
    assert email.message_from_bytes(translated).get_payload(decode=True).decode("cp1251") == "тяло"
    # A new conversation, or a ticket beyond the generated ones, stays as it was.
    new = MIMEText("body", "plain", "utf-8")
    new["Subject"] = "Cannot log in"
    assert bench_peer.translate_mail(new.as_bytes(), 100) == new.as_bytes()
    plain.replace_header("Subject", "Re: [region-01-500] x")
    assert bench_peer.translate_mail(plain.as_bytes(), 100) == plain.as_bytes()


def test_the_replies_of_a_corpus_name_our_ticket_and_their_sender(tmp_path):
    tagged = MIMEText("body", "plain", "utf-8")
    tagged["Subject"], tagged["From"] = "Re: [region-01-7] x", "A <Customer0001@example.org>"
    threaded = MIMEText("body", "plain", "utf-8")
    threaded["Subject"], threaded["From"] = "Re: y", "customer0002@example.org"
    threaded["In-Reply-To"] = "<seed-9@example.org>"
    fresh = MIMEText("body", "plain", "utf-8")
    fresh["Subject"], fresh["From"] = "New", "customer0003@example.org"
    for i, message in enumerate([tagged, threaded, fresh]):
        (tmp_path / f"msg-{i}.eml").write_bytes(bench_peer.translate_mail(message.as_bytes(), 50))
    assert bench_peer.replies_in(tmp_path) == [
        ("", "90-0000007", "customer0001@example.org"),
        ("<seed-9@example.org>", "90-0000009", "customer0002@example.org"),
    ]


def test_the_generator_fills_an_embedded_database(tmp_path):
    var = tmp_path / "var"
    bench_peer.make_var_dirs(var)
    meta_path = tmp_path / "meta.json"
    command = [sys.executable, str(ROOT / "bench" / "bench_peer.py"), "--child", "generate"]
    command += ["--tickets", "50", "--out", str(meta_path)]
    subprocess.run(command, env=bench_peer.ours_env(var), check=True, timeout=600)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["tickets"] == 50
    assert meta["teachers"] and meta["expert"] and meta["competence"]
    with sqlite3.connect(var / "helpdesk.sqlite3") as conn:
        tickets = conn.execute("SELECT count(*) FROM tickets_ticket").fetchone()[0]
        documents = conn.execute("SELECT count(*) FROM tickets_search_fts").fetchone()[0]
        per_ticket = dict(
            conn.execute(
                "SELECT t.reference, count(m.id) FROM tickets_ticket t "
                "JOIN tickets_message m ON m.ticket_id = t.id GROUP BY t.id"
            ).fetchall()
        )
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert tickets == documents == 50
    assert all(1 <= n <= 2 for ref, n in per_ticket.items() if ref not in meta["sample"])
    assert meta["sample"] and all(per_ticket[ref] == 10 for ref in meta["sample"])
    assert journal == "wal"  # the settings' own SQLite, not a hand-made one
