"""(Re)build the signatures of "similar requests": `manage.py similarity_index`.

    python manage.py similarity_index            # requests that have none yet
    python manage.py similarity_index --all      # every request (after a change of the core)

Migration 0009 fills them once; requests filed later get theirs on filing.
Run this after tickets.similarity's stop words or stemming change.
"""

from django.core.management.base import BaseCommand

from tickets.models import Message, Ticket, TicketSignature
from tickets.similarity import terms

BATCH = 2000


class Command(BaseCommand):
    help = "Store the similarity signature of requests that have none (or of all with --all)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="rebuild every signature")

    def handle(self, *args, all=False, **options):
        tickets = Ticket.objects.all()
        if not all:
            tickets = tickets.filter(signature__isnull=True)
        done, last = 0, 0
        while True:
            batch = list(
                tickets.filter(pk__gt=last)
                .order_by("pk")
                .only(
                    "pk", "subject", "competence_id", "region_id", "institution_id", "created_at"
                )[:BATCH]
            )
            if not batch:
                break
            last = batch[-1].pk
            first = {}
            rows = (
                Message.objects.filter(ticket_id__in=[t.pk for t in batch])
                .order_by("ticket_id", "created_at", "id")
                .values_list("ticket_id", "body_text")
            )
            for ticket_id, body in rows:
                first.setdefault(ticket_id, body)
            TicketSignature.objects.filter(ticket_id__in=[t.pk for t in batch]).delete()
            TicketSignature.objects.bulk_create(
                TicketSignature(
                    ticket_id=t.pk,
                    terms=" ".join(terms(t.subject, first.get(t.pk, ""))),
                    competence_id=t.competence_id,
                    region_id=t.region_id,
                    institution_id=t.institution_id,
                    created_at=t.created_at,
                )
                for t in batch
            )
            done += len(batch)
        self.stdout.write(f"{done} signatures written")
