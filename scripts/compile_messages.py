"""Compile locale/*/LC_MESSAGES/*.po into .mo files.

Uses GNU msgfmt through Django when it is installed, otherwise polib, so a
fresh machine without the gettext package still gets its translations.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    po_files = sorted((ROOT / "locale").glob("*/LC_MESSAGES/*.po"))
    if shutil.which("msgfmt"):
        for po in po_files:
            subprocess.run(
                ["msgfmt", "--check-format", "-o", str(po.with_suffix(".mo")), str(po)], check=True
            )
    else:
        import polib

        for po in po_files:
            polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
    print(f"compiled {len(po_files)} message catalogues", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
