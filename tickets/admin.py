"""Administration of tickets and of what routing and SLA read.

The forms normalise and check what administrators type (keywords, weekdays,
targets, calendar days); saving anything the SLA clock reads clears its
caches, so the next due time uses the new values in this process at once
(other processes, such as the celery worker, pick them up within a minute).
"""

import tempfile

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import admin as accounts_admin
from accounts import audit
from accounts.models import AccountEvent, AgentProfile, User
from helpdesk.errors import DomainError
from tickets import actions, personal_data, sla
from tickets.models import (
    OPEN_STATUSES,
    AgentSettings,
    Attachment,
    CalendarException,
    CannedResponse,
    Competence,
    CompetenceField,
    Macro,
    Message,
    Notification,
    RedactedOriginal,
    ReportSubscription,
    SavedFilter,
    SimilarShown,
    SLAPolicy,
    SurgeAlert,
    Tag,
    Ticket,
    TicketEvent,
    TicketFieldValue,
    TicketSignature,
    TicketTag,
    Watcher,
    WorkingHours,
)


def normalise_keywords(text: str) -> str:
    """Return comma-separated keywords trimmed, lowercased, without repeats, in order."""
    seen: dict[str, None] = {}
    for part in text.replace("\n", ",").replace(";", ",").split(","):
        keyword = " ".join(part.split()).lower()
        if keyword:
            seen.setdefault(keyword, None)
    return ", ".join(seen)


class CompetenceForm(forms.ModelForm):
    class Meta:
        model = Competence
        fields = [
            "code",
            "name",
            "name_en",
            "hint",
            "hint_en",
            "keywords",
            "tier",
            "order",
            "is_active",
        ]

    def clean_keywords(self):
        return normalise_keywords(self.cleaned_data.get("keywords") or "")


class CompetenceFieldForm(forms.ModelForm):
    class Meta:
        model = CompetenceField
        fields = [
            "competence",
            "key",
            "label",
            "label_en",
            "help_text",
            "help_text_en",
            "kind",
            "choices",
            "required",
            "order",
            "is_active",
        ]
        widgets = {"choices": forms.Textarea(attrs={"rows": 3, "cols": 40})}

    def clean_key(self):
        key = (self.cleaned_data.get("key") or "").strip().lower()
        if self.instance.pk and key != self.instance.key and self.instance.values.exists():
            raise ValidationError(
                _(
                    "Answers use this key already (in links and the API); keep it or add a new field."
                )
            )
        return key

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if (
            self.instance.pk
            and kind
            and kind != self.instance.kind
            and self.instance.values.exists()
        ):
            self.add_error(
                "kind",
                _("Requests already answer this field; its kind cannot change. Add a new field."),
            )
        return data


class CompetenceFieldInline(admin.TabularInline):
    model = CompetenceField
    form = CompetenceFieldForm
    extra = 0
    fields = ["key", "label", "label_en", "kind", "choices", "required", "order", "is_active"]
    show_change_link = True


@admin.register(CompetenceField)
class CompetenceFieldAdmin(admin.ModelAdmin):
    """Extra questions per competence, asked on filing and shown to agents."""

    form = CompetenceFieldForm
    list_display = ["label", "key", "competence", "kind", "required", "order", "is_active"]
    list_filter = ["competence", "kind", "required", "is_active"]
    list_editable = ["order", "is_active"]
    search_fields = ["key", "label", "label_en"]

    def has_delete_permission(self, request, obj=None):
        # A field with answers is retired (active off), never deleted: the answers stay.
        if obj is not None and obj.values.exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Competence)
class CompetenceAdmin(admin.ModelAdmin):
    inlines = [CompetenceFieldInline]
    form = CompetenceForm
    list_display = ["code", "name", "name_en", "tier", "order", "is_active"]
    list_filter = ["tier", "is_active"]
    search_fields = ["code", "name", "name_en", "keywords"]
    list_editable = ["order", "is_active"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Routing keeps the catalogue for a few seconds per process.
        from tickets.assignment import clear_caches

        clear_caches()


class MessageInline(admin.StackedInline):
    model = Message
    extra = 0
    fields = ["kind", "author", "sender_email", "channel", "body_text", "created_at"]
    readonly_fields = fields
    can_delete = False


class EventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ["created_at", "actor", "channel", "kind", "old_value", "new_value", "note"]
    readonly_fields = fields
    can_delete = False


class WatcherInline(admin.TabularInline):
    """Shown, not edited here: people are added and removed in the console, with history."""

    model = Watcher
    extra = 0
    fields = ["user", "email", "source", "added_by", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class FieldValueInline(admin.TabularInline):
    model = TicketFieldValue
    extra = 0
    fields = ["field", "value"]
    readonly_fields = fields
    can_delete = False


class TagInline(admin.TabularInline):
    model = TicketTag
    extra = 0
    fields = ["tag", "added_by", "created_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name = _("tag")
    verbose_name_plural = _("tags")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "subject",
        "status",
        "priority",
        "region",
        "competence",
        "assignee",
        "updated_at",
    ]
    list_filter = ["status", "priority", "tier", "channel", "region", "competence"]
    search_fields = ["reference", "subject", "requester_email", "institution__code"]
    list_select_related = ["region", "competence", "assignee"]
    raw_id_fields = ["institution", "requester", "assignee", "parent", "merged_into"]
    readonly_fields = [
        "reference",
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
    ]
    exclude = ["related"]
    inlines = [FieldValueInline, TagInline, MessageInline, WatcherInline, EventInline]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        # Tickets change through the console (tickets.actions), which keeps
        # history; the admin is for looking.
        return request.user.is_superuser and obj is None


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "ticket",
        "content_type",
        "size",
        "rejected_reason",
        "created_at",
    ]
    search_fields = ["original_name", "ticket__reference", "sha256"]
    raw_id_fields = ["ticket", "message", "uploaded_by"]


class ClearsSLACaches:
    """Admin mixin: saving or deleting a row clears tickets.sla's caches."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sla.clear_caches()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sla.clear_caches()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sla.clear_caches()


class SLAPolicyForm(forms.ModelForm):
    class Meta:
        model = SLAPolicy
        fields = ["priority", "competence", "first_response_minutes", "resolution_minutes"]

    def _positive(self, name):
        value = self.cleaned_data.get(name)
        if value is not None and value < 1:
            raise ValidationError(_("A target must be at least one business minute."))
        return value

    def clean_first_response_minutes(self):
        return self._positive("first_response_minutes")

    def clean_resolution_minutes(self):
        return self._positive("resolution_minutes")

    def clean(self):
        cleaned = super().clean()
        first = cleaned.get("first_response_minutes")
        resolution = cleaned.get("resolution_minutes")
        if first and resolution and resolution < first:
            self.add_error(
                "resolution_minutes",
                _("The resolution target cannot be shorter than the first response target."),
            )
        priority = cleaned.get("priority")
        if priority:
            # The database allows one general policy per priority, but NULL
            # competences never collide in a unique index; say it here.
            same = SLAPolicy.objects.filter(
                priority=priority, competence=cleaned.get("competence")
            ).exclude(pk=self.instance.pk)
            if same.exists():
                raise ValidationError(
                    _("There is already a policy for this priority and competence.")
                )
        return cleaned


@admin.register(SLAPolicy)
class SLAPolicyAdmin(ClearsSLACaches, admin.ModelAdmin):
    form = SLAPolicyForm
    list_display = ["priority", "competence", "first_response_minutes", "resolution_minutes"]
    list_filter = ["priority", "competence"]


class WorkingHoursForm(forms.ModelForm):
    class Meta:
        model = WorkingHours
        fields = ["region", "weekdays", "opens_at", "closes_at"]

    def clean_weekdays(self):
        text = self.cleaned_data.get("weekdays") or ""
        parts = [p.strip() for p in text.replace(";", ",").replace(" ", ",").split(",")]
        try:
            days = sorted({int(p) for p in parts if p})
        except ValueError:
            raise ValidationError(_("Use numbers 0–6 separated by commas.")) from None
        if not days or days[0] < 0 or days[-1] > 6:
            raise ValidationError(_("Use numbers 0–6 separated by commas."))
        return ",".join(str(d) for d in days)

    def clean(self):
        # WorkingHours.clean checks that closing follows opening.
        cleaned = super().clean()
        if "region" in cleaned and cleaned["region"] is None:
            others = WorkingHours.objects.filter(region__isnull=True).exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error(
                    "region", _("Default working hours exist already; edit those instead.")
                )
        return cleaned


@admin.register(WorkingHours)
class WorkingHoursAdmin(ClearsSLACaches, admin.ModelAdmin):
    form = WorkingHoursForm
    list_display = ["region", "weekdays", "opens_at", "closes_at"]


class CalendarExceptionForm(forms.ModelForm):
    class Meta:
        model = CalendarException
        fields = ["date", "kind", "region", "note"]

    def clean(self):
        cleaned = super().clean()
        day = cleaned.get("date")
        if day and "region" in cleaned:
            # NULL regions never collide in the unique index, so check here.
            same = CalendarException.objects.filter(date=day, region=cleaned["region"]).exclude(
                pk=self.instance.pk
            )
            if same.exists():
                raise ValidationError(
                    _("%(date)s is already listed for this region.") % {"date": day}
                )
        return cleaned


@admin.register(CalendarException)
class CalendarExceptionAdmin(ClearsSLACaches, admin.ModelAdmin):
    form = CalendarExceptionForm
    list_display = ["date", "kind", "region", "note"]
    list_filter = ["kind", "region"]
    date_hierarchy = "date"


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ["title", "competence", "owner", "order", "is_active"]
    list_filter = ["competence", "is_active", ("owner", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body"]
    list_editable = ["order", "is_active"]
    raw_id_fields = ["owner"]


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    """Shared macros (no owner) are defined here; agents may keep personal ones too."""

    list_display = ["title", "reply_kind", "status", "priority", "competence", "assign", "owner"]
    list_filter = ["is_active", "status", ("owner", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body"]
    raw_id_fields = ["owner"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What agents were told (written by the domain; read here, never edited)."""

    list_display = ["recipient", "kind", "ticket", "actor", "created_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["recipient__email", "ticket__reference"]
    list_select_related = ["recipient", "ticket", "actor"]
    readonly_fields = ["recipient", "kind", "ticket", "message", "actor", "created_at", "read_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AgentSettings)
class AgentSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "assigned_mail", "reply_mail", "sla_mail", "mention_mail"]
    search_fields = ["user__email", "user__full_name"]
    raw_id_fields = ["user"]


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "queue", "created_at"]
    search_fields = ["name", "owner__email"]
    raw_id_fields = ["owner"]


class HandOverForm(forms.Form):
    to_agent = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, agent_profile__isnull=False).order_by(
            "full_name", "email"
        ),
        required=False,
        label=_("to colleague"),
        help_text=_("Leave empty to route each request again among the qualified experts."),
    )
    reason = forms.CharField(label=_("reason"), max_length=500)


# The hand-over moves tickets, so it lives with the ticket domain's admin and
# extends the people admin of `accounts` (which knows nothing of tickets).
admin.site.unregister(AgentProfile)


@admin.register(AgentProfile)
class AgentProfileAdmin(accounts_admin.AgentProfileAdmin):
    actions = ["hand_over_open_tickets"]

    @admin.action(description=_("Hand over open requests"))
    def hand_over_open_tickets(self, request, queryset):
        """Ask for a colleague and a reason, then hand over each selected agent's requests."""
        profiles = list(queryset.select_related("user"))
        loads = dict(
            Ticket.objects.filter(
                assignee_id__in=[p.user_id for p in profiles], status__in=OPEN_STATUSES
            )
            .values("assignee_id")
            .annotate(n=Count("id"))
            .values_list("assignee_id", "n")
        )
        for profile in profiles:
            profile.open_count = loads.get(profile.user_id, 0)
        form = HandOverForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            for profile in profiles:
                try:
                    moved = actions.hand_over_open_tickets(
                        from_agent=profile.user,
                        actor=request.user,
                        to_agent=form.cleaned_data["to_agent"],
                        reason=form.cleaned_data["reason"],
                    )
                except DomainError as error:
                    self.message_user(request, f"{profile.user}: {error.message}", messages.ERROR)
                    continue
                self.message_user(
                    request,
                    ngettext(
                        "%(who)s: %(n)d open request handed over.",
                        "%(who)s: %(n)d open requests handed over.",
                        len(moved),
                    )
                    % {"who": profile.user, "n": len(moved)},
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Hand over open requests"),
            "opts": self.model._meta,
            "profiles": profiles,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "hand_over_open_tickets",
        }
        return TemplateResponse(request, "admin/accounts/agentprofile/hand_over.html", context)


@admin.register(RedactedOriginal)
class RedactedOriginalAdmin(admin.ModelAdmin):
    """Texts as written before their personal numbers were masked: superusers only.

    Neither the list nor the page shows the original; "Reveal" does, after a
    confirmation, and each reveal is written to the access audit.
    """

    list_display = ["created_at", "ticket", "message", "field", "masked_count"]
    list_filter = ["field"]
    search_fields = ["ticket__reference"]
    list_select_related = ["ticket"]
    fields = ["ticket", "message", "field", "masked_count", "created_at", "reveal"]
    readonly_fields = fields

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(description=_("original"))
    def reveal(self, obj):
        url = reverse("admin:tickets_redactedoriginal_reveal", args=[obj.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Reveal…"))

    def get_urls(self):
        reveal = path(
            "<int:object_id>/reveal/",
            self.admin_site.admin_view(self.reveal_view),
            name="tickets_redactedoriginal_reveal",
        )
        return [reveal, *super().get_urls()]

    def reveal_view(self, request, object_id):
        """GET asks for confirmation; POST shows the original and records who saw it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(
            RedactedOriginal.objects.select_related("ticket__requester", "ticket__institution"),
            pk=object_id,
        )
        revealed = request.method == "POST"
        if revealed:
            audit.record(
                AccountEvent.Kind.EGN_REVEALED,
                actor=request.user,
                subject=row.ticket.requester,
                institution=row.ticket.institution,
                request=request,
                detail={
                    "reference": row.ticket.reference,
                    "field": row.field,
                    "message": row.message_id,
                    "original": row.pk,
                },
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Original with a personal number"),
            "opts": self.model._meta,
            "row": row,
            "revealed": revealed,
        }
        return TemplateResponse(request, "admin/tickets/redactedoriginal/reveal.html", context)


# Exporting and anonymising a person read and change tickets, so these actions
# live here and extend the people admin of `accounts` (as the hand-over above).
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(accounts_admin.UserAdmin):
    actions = [*accounts_admin.UserAdmin.actions, "export_personal_data", "anonymise"]

    def has_superuser_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    @admin.action(description=_("Export personal data (zip archive)"), permissions=["superuser"])
    def export_personal_data(self, request, queryset):
        """One archive: for each person their data as JSON and the files they uploaded."""
        archive = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
        personal_data.export_people(
            queryset.order_by("pk"), archive, actor=request.user, request=request
        )
        archive.seek(0)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = FileResponse(
            archive,
            as_attachment=True,
            filename=f"personal-data-{stamp}.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description=_("Anonymise the selected people…"), permissions=["superuser"])
    def anonymise(self, request, queryset):
        """Ask for confirmation, then anonymise each selected person."""
        people = list(queryset.exclude(pk=request.user.pk).order_by("email"))
        if "apply" in request.POST:
            done = 0
            for person in people:
                try:
                    personal_data.anonymise(person, actor=request.user, request=request)
                except DomainError as error:
                    self.message_user(request, f"{person}: {error.message}", messages.ERROR)
                    continue
                done += 1
            self.message_user(
                request,
                ngettext("%(n)d person anonymised.", "%(n)d people anonymised.", done)
                % {"n": done},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Anonymise people"),
            "opts": self.model._meta,
            "people": people,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "anonymise",
        }
        return TemplateResponse(request, "admin/accounts/user/anonymise.html", context)


# --- tags -------------------------------------------------------------------------


class TagMergeForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Tag.objects.none(),
        label=_("merge into"),
        help_text=_("The other selected tags disappear; their requests get this one."),
    )

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = Tag.objects.filter(pk__in=[t.pk for t in tags])


class TagRenameForm(forms.Form):
    name = forms.CharField(label=_("new name"), max_length=80)

    def clean_name(self):
        try:
            return actions.clean_tag(self.cleaned_data["name"])
        except DomainError as error:
            raise ValidationError(str(error.message)) from None


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags agents typed. Merge spellings of one idea; rename one. History lines stay."""

    list_display = ["name", "key", "use_count", "created_at"]
    search_fields = ["name", "key"]
    fields = ["name"]
    actions = ["merge_tags", "rename_tag"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(uses=Count("tickets"))

    @admin.display(description=_("requests"), ordering="uses")
    def use_count(self, tag):
        return tag.uses

    def has_add_permission(self, request):
        return False  # tags are made by typing one on a request

    def has_change_permission(self, request, obj=None):
        return False  # renamed through the action, which writes the history

    def _confirm(self, request, tags, form, action, title, intro):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "intro": intro,
            "opts": self.model._meta,
            "tags": tags,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": action,
        }
        return TemplateResponse(request, "admin/tickets/tag/confirm.html", context)

    @admin.action(description=_("Merge the selected tags into one"), permissions=["delete"])
    def merge_tags(self, request, queryset):
        tags = list(queryset.order_by("key"))
        if len(tags) < 2:
            self.message_user(request, _("Choose at least two tags to merge."), messages.WARNING)
            return None
        form = TagMergeForm(request.POST if "apply" in request.POST else None, tags=tags)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["target"]
            try:
                moved = actions.merge_tags(
                    sources=[t for t in tags if t.pk != target.pk],
                    target=target,
                    actor=request.user,
                )
            except DomainError as error:
                self.message_user(request, str(error.message), messages.ERROR)
                return None
            self.message_user(
                request,
                ngettext(
                    "Merged into “%(tag)s”: %(n)d request changed.",
                    "Merged into “%(tag)s”: %(n)d requests changed.",
                    moved,
                )
                % {"tag": target.name, "n": moved},
                messages.SUCCESS,
            )
            return None
        return self._confirm(
            request,
            tags,
            form,
            "merge_tags",
            _("Merge tags"),
            _(
                "The requests of every selected tag get the tag you choose below; the other "
                "tags are deleted. Each request changed gets a history line; earlier history "
                "keeps the old names."
            ),
        )

    @admin.action(description=_("Rename the selected tag"), permissions=["delete"])
    def rename_tag(self, request, queryset):
        tags = list(queryset[:2])
        if len(tags) != 1:
            self.message_user(request, _("Choose exactly one tag to rename."), messages.WARNING)
            return None
        form = TagRenameForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            try:
                tag = actions.rename_tag(
                    tag=tags[0], name=form.cleaned_data["name"], actor=request.user
                )
            except DomainError as error:
                form.add_error("name", str(error.message))
            else:
                self.message_user(
                    request,
                    _("Renamed to “%(tag)s”.") % {"tag": tag.name},
                    messages.SUCCESS,
                )
                return None
        return self._confirm(
            request,
            tags,
            form,
            "rename_tag",
            _("Rename a tag"),
            _(
                "The tag keeps its requests under the new name; each of them gets a history "
                "line. To join it with a tag that already has the new name, merge them instead."
            ),
        )


class _ReadOnly(admin.ModelAdmin):
    """Rows the helpdesk writes itself: administrators look, nobody edits here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TicketSignature)
class TicketSignatureAdmin(_ReadOnly):
    """The stems "similar requests" compares (docs/waves.md); rebuilt by similarity_index."""

    list_display = ["ticket", "competence", "created_at", "terms"]
    search_fields = ["ticket__reference"]
    list_select_related = ["ticket", "competence"]
    raw_id_fields = ["ticket"]


@admin.register(SurgeAlert)
class SurgeAlertAdmin(_ReadOnly):
    """Waves the detection raised, and what supervisors decided (console: the alert box)."""

    list_display = [
        "created_at",
        "label",
        "competence",
        "request_count",
        "institution_count",
        "state",
    ]
    list_filter = ["state", "competence"]
    list_select_related = ["competence"]
    raw_id_fields = ["members", "incident"]


@admin.register(SimilarShown)
class SimilarShownAdmin(_ReadOnly):
    """Similar requests the filing form showed: followed instead, or filed anyway."""

    list_display = ["created_at", "user", "institution", "followed", "filed"]
    list_select_related = ["user", "institution", "followed", "filed"]
    raw_id_fields = ["shown", "followed", "filed", "user", "institution"]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    """Supervisors' scheduled reports: they subscribe in the console; an administrator may end one."""

    list_display = ["user", "period", "region", "last_period", "created_at"]
    list_filter = ["period", "region"]
    search_fields = ["user__email", "user__full_name"]
    list_select_related = ["user", "region"]
    raw_id_fields = ["user"]
    readonly_fields = ["last_period", "created_at"]

    def has_add_permission(self, request):
        return False  # subscribing checks the person's scope: the console does it
