"""The people on a request, for the portal's request page (portal/_people.html)."""

from django import template

from accounts.models import Membership
from tickets import policies
from tickets.models import Watcher

register = template.Library()

COLLEAGUES_MAX = 200


@register.simple_tag
def people_for(ticket, user):
    """Return who follows `ticket` (each with `may_remove`), and whom `user` may add.

    Only people with an account are listed by name; copied addresses are
    counted, not shown (they may be of people outside the institution).
    """
    watchers = list(
        Watcher.objects.filter(ticket=ticket).select_related("user").order_by("created_at", "id")
    )
    people = [w for w in watchers if w.user_id]
    for watcher in people:
        watcher.may_remove = policies.may_remove_watcher(user, ticket, watcher)
    colleagues = []
    if ticket.institution_id and policies.may_add_colleagues(user, ticket):
        taken = {w.user_id for w in people} | {ticket.requester_id}
        colleagues = [
            m.user
            for m in Membership.objects.filter(
                institution_id=ticket.institution_id,
                user__is_active=True,
                user__agent_profile__isnull=True,
            )
            .exclude(user_id__in=[pk for pk in taken if pk])
            .select_related("user")
            .order_by("user__full_name", "user__email")[:COLLEAGUES_MAX]
        ]
        # One person may hold two roles at the institution.
        colleagues = list({c.pk: c for c in colleagues}.values())
    return {
        "people": people,
        "addresses": len(watchers) - len(people),
        "colleagues": colleagues,
        "mine": next((w for w in people if w.user_id == user.pk), None),
    }
