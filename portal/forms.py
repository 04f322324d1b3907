"""Forms of the institution portal: filing, replying, rating, delegating.

Forms only shape and check input; every write goes through tickets.actions
or accounts.services. Uploaded files are checked here, by content, so that a
rejected file is reported on its field together with the reason.
"""

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Delegation, Institution, User
from accounts.permissions import can_set_priority
from helpdesk.uploads import UploadRejected, check_files
from tickets import assignment
from tickets import fields as competence_fields
from tickets.models import Competence, Priority, Status


class ErrorSummaryMixin:
    """Lets a template list every error with a link to its field."""

    def error_summary(self) -> list[dict]:
        """Return [{"href", "label", "text"}] for the form's errors, in field order."""
        items = [{"href": "", "label": "", "text": e} for e in self.non_field_errors()]
        for name in self.fields:
            if name not in self.errors:
                continue
            bound = self[name]
            anchor = "" if bound.is_hidden else bound.auto_id
            if anchor and isinstance(
                bound.field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple
            ):
                anchor += "_0"
            for error in self.errors[name]:
                items.append(
                    {"href": f"#{anchor}" if anchor else "", "label": bound.label, "text": error}
                )
        return items


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file input that accepts several files; cleans to a list of uploads."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if not data:
            return []
        if not isinstance(data, list | tuple):
            data = [data]
        return [f for f in data if f]


def read_and_check(uploads) -> list:
    """Return CheckedFile objects for `uploads`; raise ValidationError with the reason.

    Each file is read only up to one byte past the size limit, so an oversized
    upload is refused without holding it in memory.
    """
    limit = settings.HELPDESK["MAX_FILE_BYTES"]
    pairs = []
    for upload in uploads:
        upload.seek(0)
        pairs.append((upload.name or "", upload.read(limit + 1)))
    try:
        return check_files(pairs)
    except UploadRejected as rejected:
        if rejected.name:
            text = _("“%(name)s” was not accepted: %(reason)s.") % {
                "name": rejected.name,
                "reason": rejected.reason,
            }
        else:
            text = _("The files were not accepted: %(reason)s.") % {"reason": rejected.reason}
        raise forms.ValidationError(text, code="upload_rejected") from None


class AttachmentsMixin:
    """Adds the checked files to cleaned_data["files"] and notes that files were sent."""

    def clean_attachments(self):
        uploads = self.cleaned_data.get("attachments") or []
        self.files_sent = bool(uploads)
        self.cleaned_data["files"] = read_and_check(uploads) if uploads else []
        return uploads

    @property
    def files_lost(self) -> bool:
        """True when the form is shown again after files were chosen."""
        return bool(self.is_bound and self.errors and getattr(self, "files_sent", False))


class RowChoiceField(forms.ModelChoiceField):
    """A model choice checked against rows the form already holds, not by another query."""

    rows = None  # set by the form: the objects that may be chosen

    def to_python(self, value):
        if self.rows is None:
            return super().to_python(value)
        if value in self.empty_values:
            return None
        found = {str(row.pk): row for row in self.rows}.get(str(value).strip())
        if found is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return found


class TicketForm(ErrorSummaryMixin, AttachmentsMixin, forms.Form):
    institution = RowChoiceField(
        label=_("Institution"), queryset=Institution.objects.none(), empty_label=None
    )
    competence = RowChoiceField(
        label=_("What is it about?"),
        queryset=Competence.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={"required": _("Choose the area your question is about.")},
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        help_text=_("A short summary, e.g. “The scanned diploma image is rejected”."),
        error_messages={"required": _("Write a short subject.")},
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "What did you do, what did you expect, what happened instead? "
            "Include the module, the class or the document number where it helps."
        ),
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL, required=False
    )
    attachments = MultipleFileField(
        label=_("Attachments"),
        help_text=_("Scanned images, screenshots, PDF or office files."),
    )

    def __init__(self, *args, user, institutions, language="bg", **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.language = language
        self.institutions = list(institutions)
        field = self.fields["institution"]
        field.queryset = Institution.objects.filter(pk__in=[i.pk for i in self.institutions])
        field.rows = self.institutions
        field.label_from_instance = lambda i: f"{i.name} ({i.code})"
        if len(self.institutions) == 1:
            field.widget = forms.HiddenInput()
        if not self.is_bound and self.institutions:
            self.initial.setdefault("institution", self.institutions[0].pk)
        competences = Competence.objects.filter(is_active=True).order_by("order", "code")
        self.fields["competence"].queryset = competences
        # The active catalogue as routing reads it (kept per process for a
        # few seconds, tickets/assignment.py): one query less for every form
        # shown or filed. The choices are checked against these rows.
        self.competence_rows = sorted(
            (competence for competence, _info in assignment.active_competences().values()),
            key=lambda c: (c.order, c.code),
        )
        self.fields["competence"].rows = self.competence_rows
        if not self.is_bound:
            general = next((c for c in self.competence_rows if c.code == "general"), None)
            if general is not None:
                self.initial.setdefault("competence", general.pk)
        self.fields["description"].max_length = settings.HELPDESK["MAX_TEXT_CHARS"]
        self.fields["description"].widget.attrs["maxlength"] = settings.HELPDESK["MAX_TEXT_CHARS"]
        self.priority_institutions = {
            i.pk for i in self.institutions if can_set_priority(user, i.pk)
        }
        if not self.priority_institutions:
            del self.fields["priority"]
        self.fields["subject"].widget.attrs.update({"autocomplete": "off"})
        self._add_competence_fields()

    def _add_competence_fields(self):
        """Ask every competence's own questions; clean() keeps the chosen one's answers."""
        self.competence_groups = competence_fields.add_form_fields(
            self, self.competence_rows, self.language
        )

    def competence_field_groups(self):
        """[(competence id, its name, [bound fields], required names)] for the template."""
        return competence_fields.form_field_groups(self, self.competence_groups, self.language)

    @property
    def single_institution(self):
        return self.institutions[0] if len(self.institutions) == 1 else None

    def competence_options(self):
        """Return the areas as (value, id, name, hint, checked) in the reader's language."""
        current = self["competence"].value()
        rows = []
        for index, competence in enumerate(self.competence_rows):
            rows.append(
                {
                    "value": competence.pk,
                    "id": f"id_competence_{index}",
                    "name": competence.localized_name(self.language),
                    "hint": competence.localized_hint(self.language),
                    "checked": str(current) == str(competence.pk),
                }
            )
        return rows

    def clean(self):
        data = super().clean()
        institution = data.get("institution")
        priority = data.get("priority") or Priority.NORMAL
        if (
            "priority" in self.fields
            and institution is not None
            and priority != Priority.NORMAL
            and institution.pk not in self.priority_institutions
        ):
            self.add_error("priority", _("Your role may not set the priority at this institution."))
        if not (data.get("description") or "").strip() and not data.get("files"):
            if "attachments" not in self.errors:
                self.add_error("description", _("Describe the problem or attach a file."))
        self._clean_competence_fields(data)
        return data

    def _clean_competence_fields(self, data):
        """Check the chosen competence's answers (the same check the filing action makes)."""
        data["field_values"] = competence_fields.form_answers(self, data.get("competence"), data)


class ReplyForm(ErrorSummaryMixin, AttachmentsMixin, forms.Form):
    text = forms.CharField(label=_("Your reply"), required=False, widget=forms.Textarea)
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].max_length = settings.HELPDESK["MAX_TEXT_CHARS"]
        self.fields["text"].widget.attrs.update(
            {"rows": 5, "maxlength": settings.HELPDESK["MAX_TEXT_CHARS"]}
        )

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("files"):
            if "attachments" not in self.errors:
                self.add_error("text", _("Write a reply or attach a file."))
        return data


class ReopenForm(ErrorSummaryMixin, forms.Form):
    reason = forms.CharField(
        label=_("Why is the problem not solved? (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RatingForm(ErrorSummaryMixin, forms.Form):
    score = forms.TypedChoiceField(
        label=_("How satisfied are you with the help?"),
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose a rating from 1 to 5.")},
    )
    comment = forms.CharField(
        label=_("Comment (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TicketFilterForm(forms.Form):
    STATUS_CHOICES = [("", _("All")), ("open", _("Not resolved")), *Status.choices]

    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    competence = forms.ModelChoiceField(
        label=_("Area"), queryset=Competence.objects.none(), required=False, empty_label=_("All")
    )
    q = forms.CharField(label=_("Search"), required=False, max_length=100)

    def __init__(self, *args, language="bg", **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["competence"]
        field.queryset = Competence.objects.order_by("order", "code")
        field.label_from_instance = lambda c: c.localized_name(language)
        self.fields["q"].widget = forms.TextInput(
            attrs={"type": "search", "placeholder": _("Subject or reference")}
        )


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class DelegationForm(ErrorSummaryMixin, forms.Form):
    institution = forms.ModelChoiceField(
        label=_("Institution"), queryset=Institution.objects.none(), empty_label=None
    )
    delegate = forms.ModelChoiceField(
        label=_("Colleague"),
        queryset=User.objects.none(),
        error_messages={"required": _("Choose a colleague.")},
    )
    rights = forms.MultipleChoiceField(
        label=_("Rights"),
        choices=Delegation.Right.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one right.")},
    )
    valid_from = forms.DateTimeField(
        label=_("From"),
        widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"],
    )
    valid_until = forms.DateTimeField(
        label=_("Until"),
        widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"],
    )
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=200)

    def __init__(self, *args, actor, institutions, **kwargs):
        super().__init__(*args, **kwargs)
        institutions = list(institutions)
        ids = [i.pk for i in institutions]
        field = self.fields["institution"]
        field.queryset = Institution.objects.filter(pk__in=ids)
        field.label_from_instance = lambda i: f"{i.name} ({i.code})"
        if len(institutions) == 1:
            field.widget = forms.HiddenInput()
        delegate = self.fields["delegate"]
        delegate.queryset = (
            User.objects.filter(memberships__institution_id__in=ids, is_active=True)
            .exclude(pk=actor.pk)
            .distinct()
            .order_by("full_name", "email")
        )
        delegate.label_from_instance = lambda u: f"{u.full_name or u.email} <{u.email}>"
        if not self.is_bound:
            start = timezone.localtime().replace(second=0, microsecond=0)
            self.initial.setdefault("institution", ids[0] if ids else None)
            self.initial.setdefault("rights", [Delegation.Right.FILE, Delegation.Right.FOLLOW])
            self.initial.setdefault("valid_from", start)
            self.initial.setdefault("valid_until", start + datetime.timedelta(days=7))
