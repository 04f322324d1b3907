"""python manage.py import_directory KIND FILE.csv [--dry-run] [--prune] [--all-or-nothing]

The command around accounts.directory (docs/directory.md): it opens the file,
shows progress on a terminal, prints the refused lines (stderr), what changed
and, as its last line, the counts as JSON. Exit status 1 when a line was refused.
"""

import json
import os

from django.core.management.base import BaseCommand, CommandError

from accounts import audit, directory


class _Counter(directory.Progress):
    """Progress on a terminal: tqdm when it is installed, else a plain counter."""

    def __init__(self, stream, label: str):
        self.stream = stream
        self.label = label
        self.done = 0
        self.total = 0
        self.bar = None

    def start(self, total: int) -> None:
        self.total = total
        try:
            from tqdm import tqdm
        except ImportError:
            self._show()
        else:
            self.bar = tqdm(total=total, unit="lines", desc=self.label, file=self.stream)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        else:
            self._show()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self) -> None:
        self.stream.write(f"\r{self.label}: {self.done}/{self.total} lines")
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Import institutions, memberships or agents from a CSV file (UTF-8, comma or "
        "semicolon, header row); see docs/directory.md."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=directory.KINDS)
        parser.add_argument("file", help="CSV file (UTF-8, with or without BOM)")
        parser.add_argument(
            "--dry-run", action="store_true", help="write nothing; print what would change"
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="memberships: remove those the file leaves out at its institutions "
            "(their delegations end); institutions: deactivate those it leaves out",
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="one transaction; write nothing when any line is refused",
        )
        parser.add_argument(
            "--batch-size", type=int, default=directory.BATCH_SIZE, help="lines per transaction"
        )
        parser.add_argument(
            "--progress",
            choices=["auto", "always", "never"],
            default="auto",
            help="progress on stderr (auto: only on a terminal)",
        )

    def handle(self, *args, kind, file, dry_run, prune, all_or_nothing, batch_size, **options):
        verbosity = options["verbosity"]
        # The stream under Django's OutputWrapper: a progress bar writes "\r" without newlines.
        raw_stderr = getattr(self.stderr, "_out", self.stderr)
        show_progress = options["progress"] == "always" or (
            options["progress"] == "auto" and _isatty(raw_stderr)
        )
        progress = _Counter(raw_stderr, kind) if show_progress else None
        try:
            with open(file, "rb") as stream:
                report = directory.run_import(
                    kind,
                    directory.decode_lines(stream),
                    dry_run=dry_run,
                    prune=prune,
                    all_or_nothing=all_or_nothing,
                    batch_size=batch_size,
                    progress=progress,
                    max_changes=None if verbosity >= 2 else 50,
                )
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror or error}")
        except directory.DirectoryFileError as error:
            self.stderr.write(f"{file}: {error}")
            self.stdout.write(json.dumps(_empty_summary(errors=1)))
            raise CommandError("nothing was imported", returncode=1)
        except ValueError as error:
            raise CommandError(str(error))
        audit.record_import(report, source="command", file_name=os.path.basename(file))
        self._print(report, file, verbosity)
        if report.errors:
            raise CommandError(
                f"{report.refused_lines} line(s) refused; see the messages above", returncode=1
            )

    def _print(self, report: directory.Report, file: str, verbosity: int) -> None:
        for error in report.errors:
            self.stderr.write(f"{file}: {error}")
        mode = "dry run, nothing written" if report.dry_run else "written"
        if verbosity >= 1:
            self.stdout.write(
                f"{report.kind}: {report.lines} lines read, {report.refused_lines} refused ({mode})"
            )
            # A dry run says what it would do; a real run only with -v 2.
            if report.dry_run or verbosity >= 2:
                for change in report.changes:
                    self.stdout.write(f"  {change.action}: {change}")
                if report.changes_left_out:
                    self.stdout.write(
                        f"  … and {report.changes_left_out} more (-v 2 lists every change)"
                    )
            for note in report.notes:
                self.stdout.write(note)
        self.stdout.write(json.dumps(report.summary()))


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _empty_summary(**counts) -> dict[str, int]:
    summary = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0, "errors": 0}
    summary.update(counts)
    return summary
