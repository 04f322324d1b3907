"""People in the console: finding staff, filing a request for them, and people on a request.

- ``person_search``: a small JSON search of institution staff (agents only,
  bounded and paged, each person with their institutions).
- ``new_request``: a request that came by phone or in person, filed on
  behalf of a person (or of an institution, with a name and address typed
  in), routed like any other and acknowledged by mail.
- ``watcher_add`` / ``watcher_remove``: watchers and copied addresses of a
  request, each change with its history line (tickets.actions.people).
"""

from django import forms
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import lookup
from accounts.models import Institution, User
from console.forms import FastSelect
from console.views import _get_ticket, _ticket_context, agent_required
from helpdesk.bounds import parse_id
from helpdesk.errors import DomainError
from tickets import actions
from tickets import fields as competence_fields
from tickets.models import Channel, Competence, Priority, Watcher


def _staff_person(user_id: int | None) -> User | None:
    """An active member of an institution, not support staff; None if there is none by that id."""
    if user_id is None:
        return None
    return (
        User.objects.filter(
            pk=user_id, is_active=True, agent_profile__isnull=True, memberships__isnull=False
        )
        .distinct()
        .first()
    )


# --- the search -----------------------------------------------------------------------


@agent_required
@require_GET
def person_search(request):
    """GET ?q=<name, e-mail or code>&page=N → {"people": [...], "institutions": [...], ...}."""
    page = parse_id(request.GET.get("page", "1"))
    try:
        found = lookup.search_people(request.GET.get("q", ""), page=page or 0)
    except DomainError as error:
        return JsonResponse({"error": str(error.message)}, status=400)
    return JsonResponse(
        {
            "people": [lookup.person_json(p) for p in found.people],
            "institutions": [lookup.institution_json(i) for i in found.institutions],
            "page": found.page,
            "has_next": found.has_next,
        }
    )


# --- a request by phone or in person ---------------------------------------------------


class NewRequestForm(forms.Form):
    """What an agent notes down from a call or a visit."""

    channel = forms.ChoiceField(
        label=gettext_lazy("How did the request come?"),
        choices=[
            (Channel.PHONE, Channel.PHONE.label),
            (Channel.IN_PERSON, Channel.IN_PERSON.label),
        ],
        widget=forms.RadioSelect,
        initial=Channel.PHONE,
    )
    requester = forms.CharField(
        required=False, max_length=20, widget=forms.HiddenInput(attrs={"data-picked-id": ""})
    )
    institution = forms.CharField(
        label=gettext_lazy("НЕИСПУО code of the institution"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"data-picked-institution": "", "inputmode": "numeric"}),
    )
    requester_name = forms.CharField(
        label=gettext_lazy("Name (when the person is not in the list)"),
        required=False,
        max_length=150,
    )
    requester_email = forms.EmailField(
        label=gettext_lazy("E-mail (for the acknowledgement and the replies)"),
        required=False,
        max_length=254,
    )
    competence = forms.ModelChoiceField(
        label=gettext_lazy("Competence"),
        queryset=Competence.objects.filter(is_active=True),
        required=False,
        empty_label=gettext_lazy("— guess from the text —"),
    )
    priority = forms.ChoiceField(
        label=gettext_lazy("Priority"),
        choices=Priority.choices,
        initial=Priority.NORMAL,
        widget=FastSelect,
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200)
    text = forms.CharField(
        label=gettext_lazy("What the person asked"), widget=forms.Textarea(attrs={"rows": 6})
    )

    def __init__(self, *args, language: str = "bg", **kwargs):
        super().__init__(*args, **kwargs)
        self.language = language
        competences = list(self.fields["competence"].queryset.order_by("order", "code"))
        self.competence_groups = competence_fields.add_form_fields(self, competences, language)

    def competence_field_groups(self):
        return competence_fields.form_field_groups(self, self.competence_groups, self.language)

    def clean(self):
        data = super().clean()
        # The questions of the chosen competence, checked as the portal checks them.
        data["field_values"] = competence_fields.form_answers(self, data.get("competence"), data)
        person = None
        if data.get("requester"):
            person = _staff_person(parse_id(data["requester"]))
            if person is None:
                raise forms.ValidationError(_("Choose the person from the list again."))
        elif data.get("requester_email"):
            # A typed address of someone in the directory files for that person.
            known = User.objects.filter(email__iexact=data["requester_email"]).first()
            person = _staff_person(known.pk) if known is not None else None
        data["person"] = person
        code = (data.get("institution") or "").strip()
        institution = None
        if code:
            institution = Institution.objects.filter(code=code).first()
            if institution is None:
                self.add_error(
                    "institution",
                    _("There is no institution with code %(code)s.") % {"code": code},
                )
                return data
        elif person is not None:
            own = list(person.memberships.select_related("institution")[:2])
            if len(own) != 1:
                self.add_error(
                    "institution", _("This person works at several institutions: choose one.")
                )
                return data
            institution = own[0].institution
        else:
            self.add_error("institution", _("Choose a person or enter the institution's code."))
            return data
        if person is None and not (data.get("requester_name") or data.get("requester_email")):
            raise forms.ValidationError(
                _("Choose a person from the list, or type the name or e-mail of the one who asked.")
            )
        data["institution_obj"] = institution
        return data


@agent_required
@require_http_methods(["GET", "POST"])
def new_request(request):
    """File a request that came by phone or in person; GET shows the form."""
    form = NewRequestForm(request.POST or None, language=translation.get_language() or "bg")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            person = data["person"]
            try:
                ticket = actions.file_for_requester(
                    actor=request.user,
                    channel=data["channel"],
                    requester=person,
                    requester_name="" if person else data["requester_name"],
                    requester_email="" if person else data["requester_email"],
                    institution=data["institution_obj"],
                    competence=data["competence"],
                    priority=data["priority"],
                    subject=data["subject"],
                    text=data["text"],
                    field_values=data["field_values"],
                )
            except DomainError as error:
                shown = error.field in form.fields and not form[error.field].is_hidden
                field = error.field if shown else None
                form.add_error(field, str(error.message))
            else:
                address = ticket.requester_email
                messages.success(
                    request,
                    _("Request %(ref)s filed; the acknowledgement goes to %(email)s.")
                    % {"ref": ticket.reference, "email": address}
                    if address
                    else _(
                        "Request %(ref)s filed; there is no e-mail address to acknowledge it to."
                    )
                    % {"ref": ticket.reference},
                )
                return redirect("console:ticket", ticket.reference)
    return render(
        request,
        "console/new_request.html",
        {"form": form, "is_new_request": True},
        status=status,
    )


# --- people on a request -----------------------------------------------------------------


class WatcherForm(forms.Form):
    user = forms.CharField(required=False, max_length=20)
    email = forms.CharField(required=False, max_length=320)
    from_mail = forms.BooleanField(required=False)


def _refuse(request, ticket, message: str):
    """Show the ticket page again with the reason, as a 400."""
    messages.error(request, message)
    return render(request, "console/ticket.html", _ticket_context(request, ticket), status=400)


@agent_required
@require_POST
def watcher_add(request, reference):
    """Add a person (`user`, from the search) or an address (`email`) to the request."""
    ticket = _get_ticket(request, reference)
    form = WatcherForm(request.POST)
    if not form.is_valid():
        return _refuse(request, ticket, _("Choose a person or enter an e-mail address."))
    data = form.cleaned_data
    user = None
    if data["user"]:
        user_id = parse_id(data["user"])
        user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
        if user is None:
            return _refuse(request, ticket, _("Choose the person from the list again."))
    try:
        watcher = actions.add_watcher(
            ticket,
            actor=request.user,
            user=user,
            email="" if user is not None else data["email"],
            source=Watcher.Source.MAIL if data["from_mail"] else Watcher.Source.CONSOLE,
        )
    except DomainError as error:
        return _refuse(request, ticket, str(error.message))
    messages.success(
        request,
        _("%(who)s will get the public replies of this request.") % {"who": watcher.address},
    )
    return redirect("console:ticket", ticket.reference)


@agent_required
@require_POST
def watcher_remove(request, reference, pk):
    """Take a person or an address off the request."""
    ticket = _get_ticket(request, reference)
    watcher = Watcher.objects.filter(ticket=ticket, pk=pk).select_related("user").first()
    if watcher is None:
        raise Http404(_("This person is not on the request."))
    try:
        actions.remove_watcher(watcher, actor=request.user)
    except DomainError as error:
        return _refuse(request, ticket, str(error.message))
    messages.success(request, _("%(who)s was taken off the request.") % {"who": watcher.address})
    return redirect("console:ticket", ticket.reference)
