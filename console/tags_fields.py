"""The console's tags and competence fields: the ticket page's boxes and the tag suggestions.

Reads start from Ticket.objects.visible_to(); writes go through
tickets.actions (change_tags, set_field_values), each with its history line.
"""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from console.views import _get_ticket, agent_required
from helpdesk.errors import DomainError
from tickets import actions
from tickets import fields as competence_fields
from tickets.models import TAG_MAX, Tag, tag_key

SUGGESTIONS_MAX = 10


@agent_required
@require_POST
def tags_view(request, reference):
    """Put a tag on (`add`, several comma-separated) or take one off (`remove`)."""
    ticket = _get_ticket(request, reference)
    try:
        add = actions.parse_tags(request.POST.get("add", ""))
        remove = [n for n in [request.POST.get("remove", "")] if n.strip()]
        if not add and not remove:
            raise DomainError(_("Type a tag."))
        actions.change_tags(ticket=ticket, actor=request.user, add=add, remove=remove)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Tags saved."))
    return redirect("console:ticket", ticket.reference)


@agent_required
@require_POST
def fields_view(request, reference):
    """Save the answers to the fields of the request's competence."""
    ticket = _get_ticket(request, reference)
    asked = competence_fields.fields_for(ticket.competence)
    values = {}
    for field in asked:
        name = competence_fields.param_name(field)
        if name in request.POST:
            values[field.key] = request.POST.get(name, "")[:1000]
    try:
        changed = actions.set_field_values(ticket=ticket, actor=request.user, values=values)
    except DomainError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("Fields saved.") if changed else _("Nothing changed."))
    return redirect("console:ticket", ticket.reference)


@agent_required
@require_GET
def tag_suggestions(request):
    """Up to ten existing tags starting with `q` (or the first ones), as JSON."""
    key = tag_key(request.GET.get("q", "")[: TAG_MAX * 2])[:TAG_MAX]
    tags = Tag.objects.all()
    if key:
        tags = tags.filter(key__startswith=key)
    names = list(tags.order_by("key").values_list("name", flat=True)[:SUGGESTIONS_MAX])
    return JsonResponse({"tags": names})
