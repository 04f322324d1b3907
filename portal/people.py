"""Colleagues on a request, from the portal: add one, remove one, stop following.

Who may do which is the domain's rule (tickets.policies, tickets.actions.people):
staff of the request's institution may add a colleague of that institution;
the requester, whoever added someone, or the person themselves may take
them off again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import User
from helpdesk.bounds import parse_id
from helpdesk.errors import DomainError
from portal.views import _render_ticket, _ticket_or_404
from tickets import actions
from tickets.models import Channel, Ticket, Watcher


def _back(ticket):
    return redirect("portal:ticket", reference=ticket.reference)


@login_required
@require_POST
def watcher_add(request, reference):
    """Add a colleague (by account id) of the request's institution to the request."""
    ticket = _ticket_or_404(request.user, reference)
    user_id = parse_id(request.POST.get("user", ""))
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None:
        messages.error(request, _("Choose a colleague from the list."))
        return _bad_request(request, ticket)
    try:
        actions.add_watcher(
            ticket,
            actor=request.user,
            user=user,
            source=Watcher.Source.PORTAL,
            channel=Channel.PORTAL,
        )
    except DomainError as error:
        messages.error(request, str(error.message))
        return _bad_request(request, ticket)
    messages.success(
        request,
        _("%(who)s will get the replies of this request.") % {"who": user.full_name or user.email},
    )
    return _back(ticket)


@login_required
@require_POST
def watcher_remove(request, reference, pk):
    """Take a colleague off the request, or stop following it oneself."""
    ticket = _ticket_or_404(request.user, reference)
    watcher = Watcher.objects.filter(ticket=ticket, pk=pk).select_related("user").first()
    if watcher is None:
        raise Http404(_("This person is not on the request."))
    try:
        actions.remove_watcher(watcher, actor=request.user, channel=Channel.PORTAL)
    except DomainError as error:
        messages.error(request, str(error.message))
        return _bad_request(request, ticket)
    if watcher.user_id == request.user.pk:
        messages.success(request, _("You no longer follow this request."))
        if not Ticket.objects.visible_to(request.user).filter(pk=ticket.pk).exists():
            return redirect("portal:list")  # they saw it only because they followed it
    else:
        messages.success(request, _("%(who)s was taken off the request.") % {"who": watcher.user})
    return _back(ticket)


def _bad_request(request, ticket):
    """The request page again, with the reason among its messages, as a 400."""
    response = _render_ticket(request, ticket)
    response.status_code = 400
    return response
