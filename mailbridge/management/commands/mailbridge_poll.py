"""Read the configured IMAP mailboxes: continuously (IDLE or polling) or one pass."""

import json
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from mailbridge.imap import BATCH_MESSAGES, LEASE_SECONDS, MailboxPoller
from mailbridge.models import Mailbox

RESCAN_SECONDS = 60


class Command(BaseCommand):
    help = (
        "Fetch new mail from the active mailboxes into tickets. Runs until stopped "
        "(SIGTERM/SIGINT), waiting with IDLE where the server offers it; --once makes a "
        "single pass and prints one JSON line per mailbox."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--mailbox", action="append", default=[], metavar="NAME", help="Only this mailbox."
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH_MESSAGES,
            help="Messages fetched (and moved) together.",
        )
        parser.add_argument(
            "--lease",
            type=int,
            default=LEASE_SECONDS,
            help="Seconds a poller's claim on a mailbox lasts without renewal.",
        )

    def handle(self, *args, once, mailbox, lease, batch, **options):
        names = set(mailbox)
        boxes = self._mailboxes(names)
        if names and len(boxes) != len(names):
            missing = names - {b.name for b in boxes}
            raise CommandError(f"no active mailbox named {', '.join(sorted(missing))}")
        if once:
            failed = 0
            for box in boxes:
                result = MailboxPoller(box, lease_seconds=lease, batch_messages=batch).run_once()
                failed += result.state == "error"
                self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            if failed:
                raise CommandError(f"{failed} mailbox(es) failed")
            return
        self._run(names, lease=lease, batch=batch)

    def _mailboxes(self, names):
        boxes = Mailbox.objects.filter(is_active=True).order_by("name")
        return list(boxes.filter(name__in=names) if names else boxes)

    def _run(self, names, *, lease, batch):
        stop = threading.Event()

        def on_signal(signum, frame):
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threads: dict[int, threading.Thread] = {}
        while not stop.is_set():
            # Start a poller for each active mailbox that has none (new, or
            # its poller ended because the mailbox was switched off).
            for box in self._mailboxes(names):
                thread = threads.get(box.pk)
                if thread is None or not thread.is_alive():
                    poller = MailboxPoller(
                        box, stop=stop, lease_seconds=lease, batch_messages=batch
                    )
                    thread = threading.Thread(
                        target=_run_poller, args=(poller,), name=f"mailbox-{box.name}", daemon=True
                    )
                    threads[box.pk] = thread
                    thread.start()
            connection.close()
            stop.wait(RESCAN_SECONDS)
        for thread in threads.values():
            thread.join(timeout=30)


def _run_poller(poller: MailboxPoller) -> None:
    try:
        poller.run_forever()
    finally:
        connection.close()
