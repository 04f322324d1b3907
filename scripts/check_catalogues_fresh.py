#!/usr/bin/env python3
"""Fail when `make makemessages` would change the committed message catalogues.

A string added to the code but not to the catalogues shows in English to
every Bulgarian reader; a catalogue that lags the code is how that happens.
This runs the same makemessages as the Makefile over the working tree,
compares every .po file with what was there, puts the files back as they
were, and names those that would change.

    scripts/check_catalogues_fresh.py
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale"


def _body(content: bytes) -> list[bytes]:
    """The catalogue without its creation date (makemessages rewrites it on every run)."""
    return [line for line in content.splitlines() if not line.startswith(b'"POT-Creation-Date:')]


def main() -> int:
    before = {path: path.read_bytes() for path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))}
    try:
        subprocess.run(
            ["make", "-s", "--no-print-directory", "makemessages"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        after = {path: path.read_bytes() for path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))}
    finally:
        for path in set(LOCALE.glob("*/LC_MESSAGES/*.po")) - set(before):
            path.unlink()
        for path, content in before.items():
            path.write_bytes(content)
    stale = [path for path in sorted(after) if _body(after[path]) != _body(before.get(path, b""))]
    for path in stale:
        old = before.get(path, b"").decode("utf-8").splitlines()
        new = after[path].decode("utf-8").splitlines()
        diff = list(difflib.unified_diff(old, new, "committed", "makemessages", lineterm="", n=0))
        print(f"{path.relative_to(ROOT)}: stale ({len(diff)} diff lines), e.g.:")
        for line in diff[2:14]:
            print(f"    {line}")
    if stale:
        print("Run `make makemessages`, translate what is new, and commit the catalogues.")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
