"""Time spent: the minutes agents recorded on replies and notes, per agent and per competence.

Counted over the messages written in the dashboard's dates on the requests
the reader may see (Scope.tickets()), two GROUP BY queries whatever the
number of messages.
"""

from django.db.models import Count, Sum
from django.utils.translation import gettext as _

from console.dashboard import counted
from console.dashboard.queries import Scope
from tickets.models import Message


def _messages(scope: Scope):
    start, end = scope.bounds()
    messages = Message.objects.filter(
        minutes_spent__isnull=False, created_at__gte=start, created_at__lt=end
    )
    # Whose tickets: when the reader sees every ticket (of a region), say so
    # plainly; a subquery of a million ticket ids is what made this slow.
    region_id = counted.counted_region(scope)
    if region_id is counted.NOT_COUNTED:
        return messages.filter(ticket__in=scope.tickets().values("pk"))
    if region_id is not None:
        return messages.filter(ticket__region_id=region_id)
    return messages


def time_spent(scope: Scope) -> dict:
    """Return {"by_agent": [...], "by_competence": [...], "total": minutes}.

    Each row: {"name", "minutes", "entries", "requests"}; sorted by minutes, most first.
    """
    by_agent = (
        _messages(scope)
        .values("author_id", "author__full_name", "author__email")
        .annotate(
            minutes=Sum("minutes_spent"),
            entries=Count("id"),
            requests=Count("ticket_id", distinct=True),
        )
        .order_by("-minutes", "author__email")
    )
    by_competence = (
        _messages(scope)
        .values("ticket__competence_id", "ticket__competence__name")
        .annotate(
            minutes=Sum("minutes_spent"),
            entries=Count("id"),
            requests=Count("ticket_id", distinct=True),
        )
        .order_by("-minutes", "ticket__competence__name")
    )
    agents = [
        {
            "name": r["author__full_name"] or r["author__email"] or _("unknown"),
            "minutes": r["minutes"],
            "entries": r["entries"],
            "requests": r["requests"],
        }
        for r in by_agent
    ]
    competences = [
        {
            "name": r["ticket__competence__name"] or _("not set"),
            "minutes": r["minutes"],
            "entries": r["entries"],
            "requests": r["requests"],
        }
        for r in by_competence
    ]
    return {
        "by_agent": agents,
        "by_competence": competences,
        "total": sum(r["minutes"] for r in agents),
    }
