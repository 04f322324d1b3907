"""Rebuild the search documents of every ticket (tickets.search)."""

from django.core.management.base import BaseCommand

from tickets.search import rebuild_all


class Command(BaseCommand):
    help = "Rebuild every ticket's search document (Bulgarian stems of its subject and messages)."

    def handle(self, *args, **options):
        count = rebuild_all()
        self.stdout.write(f"{count} search documents rebuilt.")
