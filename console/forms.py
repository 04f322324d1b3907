"""Forms of the agent console. They check input; the services decide and write."""

import re

from django import forms
from django.forms.utils import flatatt
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from helpdesk.bounds import parse_id
from helpdesk.uploads import UploadRejected, check_files
from tickets.actions import PREFERENCE_FIELDS
from tickets.models import (
    AgentSettings,
    CannedResponse,
    Competence,
    Macro,
    Message,
    Notification,
    Priority,
    Status,
    Tier,
)

REFERENCE = re.compile(r"^\s*(\d{2})-(\d{1,6})\s*$")


def normalise_reference(text: str) -> str | None:
    """Return "YY-NNNNNN" for a typed reference ("26-12" → "26-000012"), or None."""
    match = REFERENCE.match(text or "")
    if not match:
        return None
    return f"{match.group(1)}-{int(match.group(2)):06d}"


class FastSelect(forms.Select):
    """A <select> drawn in Python.

    Django draws every <option> through a template, about 0.1 ms each; the
    agents of a country run to hundreds and appear twice on a queue page.
    """

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        attrs["name"] = name
        chosen = value if isinstance(value, (list, tuple)) else [value]
        chosen = {str(v) for v in chosen if v is not None}
        selected = mark_safe(" selected")
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                ("" if v is None else v, selected if str(v) in chosen else "", label)
                for v, label in self.choices
            ),
        )
        return format_html("<select{}>{}</select>", flatatt(attrs), options)


class FastCheckboxes(forms.CheckboxSelectMultiple):
    """Checkboxes drawn in Python, for the same reason as FastSelect."""

    def render(self, name, value, attrs=None, renderer=None):
        attrs = self.build_attrs(self.attrs, attrs)
        base_id = attrs.get("id") or f"id_{name}"
        chosen = {str(v) for v in (value or [])}
        checked = mark_safe(" checked")
        boxes = format_html_join(
            "",
            '<label for="{}_{}"><input type="checkbox" name="{}" value="{}" id="{}_{}"{}> {}</label>',
            (
                (base_id, i, name, v, base_id, i, checked if str(v) in chosen else "", label)
                for i, (v, label) in enumerate(self.choices)
            ),
        )
        return format_html('<div id="{}">{}</div>', base_id, boxes)


def _attrs_html(attrs) -> str:
    """django/forms/widgets/attrs.html in Python: the same text, in the same order."""
    out = []
    for name, value in attrs.items():
        if value is True:
            out.append(f" {conditional_escape(name)}")
        elif value is not False:
            out.append(f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(out)


class TemplateFreeInput:
    """An <input> drawn in Python, character for character what Django's template draws.

    Django draws each widget through three templates (input, attrs and the
    widget's own), about 0.15 ms each time; a queue page has a dozen.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = widget["value"]
        value_html = "" if shown is None else f' value="{conditional_escape(shown)}"'
        return mark_safe(
            f'<input type="{conditional_escape(widget["type"])}" '
            f'name="{conditional_escape(widget["name"])}"{value_html}'
            f"{_attrs_html(widget['attrs'])}>"
        )


class FastTextInput(TemplateFreeInput, forms.TextInput):
    pass


class FastDateInput(TemplateFreeInput, forms.DateInput):
    input_type = "date"


class TemplateFreeSelect:
    """A <select> drawn in Python, character for character what Django's templates draw.

    Unlike FastSelect (whose text differs a little) it keeps Django's choice
    of the selected option, for the small drop-downs of forms Django drew
    before.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        out = [
            f'<select name="{conditional_escape(widget["name"])}"{_attrs_html(widget["attrs"])}>'
        ]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in options:
                out.append(
                    f'\n  <option value="{conditional_escape(option["value"])}"'
                    f"{_attrs_html(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
                )
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))


class PlainSelect(TemplateFreeSelect, forms.Select):
    pass


class PlainNullBooleanSelect(TemplateFreeSelect, forms.NullBooleanSelect):
    pass


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several uploads, checked by content; cleans to a list of CheckedFile."""

    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        uploads = [f for f in (data or []) if f] if isinstance(data, (list, tuple)) else []
        if data and not isinstance(data, (list, tuple)):
            uploads = [data]
        if not uploads:
            return []
        try:
            return check_files([(f.name, f.read()) for f in uploads])
        except UploadRejected as rejected:
            name = f"{rejected.name}: " if rejected.name else ""
            raise forms.ValidationError(
                _("The files were not accepted: %(reason)s.") % {"reason": name + rejected.reason}
            )


NEXT_STATUS_CHOICES = [
    ("", _("keep the status")),
    (Status.WAITING, _("wait on the requester")),
    (Status.RESOLVED, _("mark resolved")),
    (Status.CLOSED, _("close")),
]


class ReplyForm(forms.Form):
    """A public reply or an internal note, with the stale-reply guard."""

    kind = forms.ChoiceField(
        choices=Message.Kind.choices, initial=Message.Kind.PUBLIC, widget=forms.RadioSelect
    )
    text = forms.CharField(
        label=_("Text"), widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    files = MultipleFileField(label=_("Files"))
    new_status = forms.ChoiceField(label=_("Then"), choices=NEXT_STATUS_CHOICES, required=False)
    last_message_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    confirm_stale = forms.BooleanField(
        label=_("I have read the newer messages; send anyway"), required=False
    )
    to_children = forms.BooleanField(
        label=_("Send this reply to every linked request too"), required=False, initial=True
    )
    minutes = forms.IntegerField(
        label=_("Minutes spent"),
        required=False,
        min_value=0,
        max_value=1440,
        widget=forms.NumberInput(attrs={"min": 0, "max": 1440, "step": 1, "inputmode": "numeric"}),
    )

    def clean(self):
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("files"):
            raise forms.ValidationError(_("Write a text or attach a file."))
        if data.get("kind") == Message.Kind.INTERNAL and data.get("new_status"):
            # A status change with a note is fine, but closing with a note
            # would close without telling the requester anything.
            if data["new_status"] in (Status.RESOLVED, Status.CLOSED):
                raise forms.ValidationError(
                    _("Resolve or close with a public reply, not with an internal note.")
                )
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)
    with_children = forms.BooleanField(
        label=_("Also for every linked request"), required=False, initial=True
    )


class PriorityForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)


class CompetenceForm(forms.Form):
    competence = forms.ModelChoiceField(
        label=_("Competence"), queryset=Competence.objects.filter(is_active=True), widget=FastSelect
    )
    reroute = forms.BooleanField(label=_("Route again"), required=False)


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(
        label=_("Assignee"), coerce=int, required=False, empty_value=None
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)

    def __init__(self, *args, agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("— the queue —"))] + [
            (a.user_id, str(a.user)) for a in agents
        ]


class EscalateForm(forms.Form):
    tier = forms.ChoiceField(label=_("Move to"), choices=Tier.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500)


class ReferenceForm(forms.Form):
    """Names another ticket by its reference (link, merge, incident)."""

    reference = forms.CharField(label=_("Reference"), max_length=20)

    def clean_reference(self):
        reference = normalise_reference(self.cleaned_data["reference"])
        if reference is None:
            raise forms.ValidationError(_("Write a reference such as 26-000123."))
        return reference


class IncidentForm(forms.Form):
    is_incident = forms.BooleanField(required=False)


class BulkForm(forms.Form):
    ACTIONS = [
        ("take", _("Take")),
        ("assign", _("Assign to")),
        ("release", _("Return to the queue")),
        ("status", _("Set status")),
        ("priority", _("Set priority")),
        ("close", _("Close with a reply")),
        ("tag", _("Add tags")),
        ("untag", _("Remove tags")),
    ]
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)
    action = forms.ChoiceField(label=_("Action"), choices=ACTIONS, widget=PlainSelect)
    assignee = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, choices=(), widget=FastSelect
    )
    status = forms.ChoiceField(
        choices=[("", "—")] + Status.choices, required=False, widget=PlainSelect
    )
    priority = forms.ChoiceField(
        choices=[("", "—")] + Priority.choices, required=False, widget=PlainSelect
    )
    text = forms.CharField(required=False, max_length=20000, widget=FastTextInput)
    tags = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"list": "tag-suggestions", "autocomplete": "off"}),
    )

    def __init__(self, *args, agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        # (user id, name) pairs, as console.filters.agent_options gives them.
        self.fields["assignee"].choices = [("", "—")] + list(agents)
        # Any number is accepted here; which tickets may be touched is decided
        # by visible_to() in the view and by the services.
        self.fields["ids"].valid_value = lambda value: parse_id(value) is not None

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action == "assign" and not data.get("assignee"):
            self.add_error("assignee", _("Choose whom to assign to."))
        if action == "status" and not data.get("status"):
            self.add_error("status", _("Choose the status."))
        if action == "priority" and not data.get("priority"):
            self.add_error("priority", _("Choose the priority."))
        if action in ("tag", "untag") and not (data.get("tags") or "").strip():
            self.add_error("tags", _("Type a tag."))
        if len(data.get("ids") or []) > 500:
            raise forms.ValidationError(_("Choose at most 500 requests at once."))
        return data


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)


class PersonalCannedForm(forms.Form):
    """One of an agent's own canned replies (placeholders as in the shared ones)."""

    title = forms.CharField(label=_("Title"), max_length=CannedResponse.TITLE_MAX)
    body = forms.CharField(
        label=_("Text"),
        max_length=CannedResponse.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class PersonalMacroForm(forms.Form):
    """One of an agent's own macros: a text and the changes it makes."""

    title = forms.CharField(label=_("Title"), max_length=Macro.TITLE_MAX)
    body = forms.CharField(
        label=_("Text"),
        required=False,
        max_length=Macro.BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    reply_kind = forms.ChoiceField(label=_("The text is"), choices=Message.Kind.choices)
    status = forms.ChoiceField(
        label=_("New status"), required=False, choices=[("", "—")] + Status.choices
    )
    priority = forms.ChoiceField(
        label=_("New priority"), required=False, choices=[("", "—")] + Priority.choices
    )
    competence = forms.ModelChoiceField(
        label=_("New competence"),
        required=False,
        queryset=Competence.objects.filter(is_active=True),
        widget=FastSelect,
    )
    assign = forms.ChoiceField(label=_("Assignee"), required=False, choices=Macro.Assign.choices)
    add_tags = forms.CharField(
        label=_("Tags to add (comma-separated)"), required=False, max_length=400
    )
    remove_tags = forms.CharField(
        label=_("Tags to remove (comma-separated)"), required=False, max_length=400
    )


class MacroApplyForm(forms.Form):
    macro = forms.IntegerField(min_value=1)
    minutes = forms.IntegerField(required=False, min_value=0, max_value=1440)

    def clean_macro(self):
        value = parse_id(str(self.cleaned_data["macro"]))
        if value is None:
            raise forms.ValidationError(_("Choose a macro."))
        return value


class AgentSettingsForm(forms.Form):
    """An agent's signatures and notification choices (console/agent_views.py)."""

    signature_bg = forms.CharField(
        label=_("Signature in Bulgarian"),
        required=False,
        max_length=AgentSettings.SIGNATURE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    signature_en = forms.CharField(
        label=_("Signature in English"),
        required=False,
        max_length=AgentSettings.SIGNATURE_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in PREFERENCE_FIELDS:
            self.fields[name] = forms.BooleanField(
                label=AgentSettings._meta.get_field(name).verbose_name, required=False
            )

    def preference_rows(self):
        """[(kind label, console field, mail field)] for the table of choices."""
        return [
            (label, self[f"{kind}_console"], self[f"{kind}_mail"])
            for kind, label in Notification.Kind.choices
        ]
