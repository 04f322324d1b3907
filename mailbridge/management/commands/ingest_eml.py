"""Run raw .eml files through the same pipeline as mail from a mailbox."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mailbridge.ingest import TRANSIENT_ERRORS, process_message


class Command(BaseCommand):
    help = (
        "Process raw e-mail files exactly like mail fetched from a mailbox and print one "
        'JSON line per file: {"file", "outcome", "ticket", "reason"}. "-" reads standard input.'
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args, files, **options):
        errors = 0
        for name in files:
            line = {"file": name}
            try:
                raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            except OSError as error:
                line.update(outcome="error", ticket=None, reason=f"cannot read: {error}")
                errors += 1
            else:
                try:
                    line.update(process_message(raw).as_dict())
                except TRANSIENT_ERRORS as error:
                    # Stored or not, never half-applied: running the command again finishes it.
                    line.update(outcome="error", ticket=None, reason=f"database: {error}")
                    errors += 1
            self.stdout.write(json.dumps(line, ensure_ascii=False))
        if errors:
            raise CommandError(f"{errors} file(s) could not be processed; run the command again")
