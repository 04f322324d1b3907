"""Recount the dashboard's counters (tickets.counters) from the tickets."""

import time

from django.core.management.base import BaseCommand

from tickets import counters


class Command(BaseCommand):
    help = (
        "Recount the dashboard's counters from the tickets (after loading tickets by SQL, "
        "or if the nightly reconciliation reported a drift)."
    )

    def handle(self, *args, **options):
        started = time.perf_counter()
        rows = counters.rebuild()
        self.stdout.write(f"{rows} counter rows rebuilt in {time.perf_counter() - started:.1f} s.")
