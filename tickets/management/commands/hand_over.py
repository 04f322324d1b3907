"""Hand over every open request of an absent expert: `manage.py hand_over`.

    python manage.py hand_over --from expert@ruo.bg --reason "sick leave"
    python manage.py hand_over --from expert@ruo.bg --to colleague@ruo.bg --reason "..."

Without --to each request is routed again among the qualified experts of its
region and competence. The command acts as the system (whoever runs it has
shell access); the history names no person.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from helpdesk.errors import DomainError
from tickets.actions import hand_over_open_tickets


def _user(email: str, option: str) -> User:
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None:
        raise CommandError(f"{option}: nobody has the address {email}")
    return user


class Command(BaseCommand):
    help = "Hand over the open requests of an expert to a colleague or back through routing."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_email", required=True, metavar="EMAIL")
        parser.add_argument("--to", dest="to_email", metavar="EMAIL")
        parser.add_argument("--reason", required=True, metavar="TEXT")

    def handle(self, *args, from_email, to_email=None, reason, **options):
        from_agent = _user(from_email, "--from")
        to_agent = _user(to_email, "--to") if to_email else None
        try:
            moved = hand_over_open_tickets(
                from_agent=from_agent, actor=None, to_agent=to_agent, reason=reason
            )
        except DomainError as error:
            raise CommandError(str(error.message)) from None
        for ticket in moved:
            where = str(ticket.assignee) if ticket.assignee_id else "queue"
            self.stdout.write(f"{ticket.reference} -> {where}")
        self.stdout.write(self.style.SUCCESS(f"Handed over {len(moved)} open requests."))
