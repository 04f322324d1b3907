from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import audit, services
from accounts.admin_import import DirectoryImportMixin
from accounts.models import (
    Absence,
    AccountEvent,
    AgentProfile,
    Delegation,
    Institution,
    InstitutionDomain,
    Membership,
    Region,
    User,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["institution"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "date_joined"]
    list_filter = ["is_active", "is_staff", "is_superuser", "language"]
    search_fields = ["email", "full_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name", "language", "email_undeliverable")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ["deactivate", "reactivate"]

    # Every change of someone's rights made here is written to the access audit.

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data:
            if obj.is_active:
                services.reactivate_user(obj, actor=request.user, request=request)
            else:
                services.deactivate_user(obj, actor=request.user, request=request)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        rights = [f for f in RIGHTS_FIELDS if f in form.changed_data]
        if change and rights:
            audit.record(
                AccountEvent.Kind.ADMIN_RIGHTS_CHANGED,
                subject=form.instance,
                request=request,
                detail={
                    "email": form.instance.email,
                    **{
                        f: {
                            "from": audit.shown(form.initial.get(f)),
                            "to": audit.shown(form.cleaned_data.get(f)),
                        }
                        for f in rights
                    },
                },
            )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        before = {
            m.pk: m.role
            for m in Membership.objects.filter(
                pk__in=[f.instance.pk for f in formset.forms if f.instance.pk]
            )
        }
        super().save_formset(request, form, formset, change)
        for membership in formset.new_objects:
            audit.record_membership(
                AccountEvent.Kind.MEMBERSHIP_ADDED, membership, request, {"role": membership.role}
            )
        for membership, _fields in formset.changed_objects:
            audit.record_membership(
                AccountEvent.Kind.MEMBERSHIP_CHANGED,
                membership,
                request,
                {"from": before.get(membership.pk, ""), "to": membership.role},
            )
        for membership in formset.deleted_objects:
            audit.record_membership(
                AccountEvent.Kind.MEMBERSHIP_REMOVED,
                membership,
                request,
                {"role": before.get(membership.pk, membership.role)},
            )

    @admin.action(description=_("Deactivate the selected people (their sessions end at once)"))
    def deactivate(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        people = [u for u in queryset if u.is_active and u.pk != request.user.pk]
        ended = sum(
            services.deactivate_user(u, actor=request.user, request=request) for u in people
        )
        self.message_user(
            request,
            ngettext(
                "%(n)d person deactivated; %(s)d session ended.",
                "%(n)d people deactivated; %(s)d sessions ended.",
                len(people),
            )
            % {"n": len(people), "s": ended},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reactivate the selected people"))
    def reactivate(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        people = [u for u in queryset if not u.is_active]
        for user in people:
            services.reactivate_user(user, actor=request.user, request=request)
        self.message_user(
            request,
            ngettext("%(n)d person reactivated.", "%(n)d people reactivated.", len(people))
            % {"n": len(people)},
            messages.SUCCESS,
        )


# Fields of the person form whose change is a change of administration rights.
RIGHTS_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "email"]
    search_fields = ["code", "name", "name_en"]


class DomainInline(admin.TabularInline):
    model = InstitutionDomain
    extra = 0


@admin.register(Institution)
class InstitutionAdmin(DirectoryImportMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", "region", "municipality", "is_active"]
    list_filter = ["region", "kind", "is_active"]
    search_fields = ["code", "name", "municipality", "town"]
    list_select_related = ["region"]
    inlines = [DomainInline]
    show_full_result_count = False

    def _render(self, request, **context):
        # A confirmed import (not its preview) goes into the access audit.
        report = context.get("report")
        if context.get("stage") == "done" and report is not None:
            job = context.get("job") or {}
            audit.record_import(
                report,
                actor=request.user,
                request=request,
                source="admin",
                file_name=job.get("name", ""),
            )
        return super()._render(request, **context)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "institution", "role"]
    list_filter = ["role", "institution__region"]
    search_fields = ["user__email", "user__full_name", "institution__code", "institution__name"]
    autocomplete_fields = ["user", "institution"]
    list_select_related = ["user", "institution"]

    def save_model(self, request, obj, form, change):
        old_role = form.initial.get("role") if change else None
        super().save_model(request, obj, form, change)
        if not change:
            audit.record_membership(
                AccountEvent.Kind.MEMBERSHIP_ADDED, obj, request, {"role": obj.role}
            )
        elif form.changed_data:
            audit.record_membership(
                AccountEvent.Kind.MEMBERSHIP_CHANGED,
                obj,
                request,
                {"from": old_role, "to": obj.role, "fields": sorted(form.changed_data)},
            )

    def delete_model(self, request, obj):
        audit.record_membership(
            AccountEvent.Kind.MEMBERSHIP_REMOVED, obj, request, {"role": obj.role}
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "institution"):
            audit.record_membership(
                AccountEvent.Kind.MEMBERSHIP_REMOVED, membership, request, {"role": membership.role}
            )
        super().delete_queryset(request, queryset)


class AbsenceFormSet(forms.BaseInlineFormSet):
    """Absences of one agent: each is checked by Absence.clean, and none may overlap."""

    def clean(self):
        super().clean()
        periods = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            starts, ends = data.get("starts_at"), data.get("ends_at")
            if starts and ends:
                periods.append((starts, ends))
        periods.sort()
        for (_s1, end1), (start2, _e2) in zip(periods, periods[1:]):
            if start2 < end1:
                raise ValidationError(_("Two absences of this agent overlap."))


class AbsenceInline(admin.TabularInline):
    model = Absence
    formset = AbsenceFormSet
    extra = 0


class AgentProfileForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = ["user", "tier", "kind", "region", "competences", "capacity"]

    def clean(self):
        cleaned = super().clean()
        tier, kind = cleaned.get("tier"), cleaned.get("kind")
        capacity = cleaned.get("capacity")
        if kind == AgentProfile.Kind.EXPERT and capacity is not None and capacity < 1:
            self.add_error("capacity", _("An expert's capacity must be at least 1."))
        if tier == AgentProfile.Tier.REGIONAL and not cleaned.get("region"):
            self.add_error("region", _("A regional expert needs a region."))
        if tier == AgentProfile.Tier.CENTRAL and cleaned.get("region"):
            self.add_error("region", _("Central support works for every region; leave it empty."))
        return cleaned


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = ["user", "tier", "kind", "region", "capacity", "last_assigned_at"]
    list_filter = ["tier", "kind", "region", "competences"]
    search_fields = ["user__email", "user__full_name"]
    filter_horizontal = ["competences"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "region"]
    inlines = [AbsenceInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        profile = form.instance
        fields = [f for f in AgentProfileForm.Meta.fields if f in form.changed_data]
        if change and not fields:
            return
        audit.record(
            AccountEvent.Kind.AGENT_CHANGED if change else AccountEvent.Kind.AGENT_ADDED,
            subject=profile.user,
            institution=None,
            request=request,
            detail={
                "email": profile.user.email,
                **{
                    f: {
                        "from": audit.shown(form.initial.get(f)) if change else None,
                        "to": audit.shown(form.cleaned_data.get(f)),
                    }
                    for f in fields
                },
            },
        )

    def delete_model(self, request, obj):
        self._record_removal(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for profile in queryset.select_related("user", "region"):
            self._record_removal(request, profile)
        super().delete_queryset(request, queryset)

    @staticmethod
    def _record_removal(request, profile):
        audit.record(
            AccountEvent.Kind.AGENT_REMOVED,
            subject=profile.user,
            request=request,
            detail={
                "email": profile.user.email,
                "tier": profile.tier,
                "kind": profile.kind,
                "region": profile.region.code if profile.region_id else "",
            },
        )


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    list_display = [
        "institution",
        "granted_by",
        "delegate",
        "valid_from",
        "valid_until",
        "revoked_at",
    ]
    list_filter = ["institution__region"]
    search_fields = ["institution__code", "delegate__email", "granted_by__email"]
    autocomplete_fields = ["institution", "granted_by", "delegate", "revoked_by"]
    list_select_related = ["institution", "granted_by", "delegate"]


class _TextFilter(admin.SimpleListFilter):
    """A list filter with a text box (people and institutions are too many to list)."""

    template = "admin/accounts/accountevent/text_filter.html"

    def lookups(self, request, model_admin):
        # One entry, so that the admin shows the filter; the box replaces the links.
        return [("", "")]

    def choices(self, changelist):
        kept = {
            k: v for k, v in changelist.get_filters_params().items() if k != self.parameter_name
        }
        yield {
            "parameter": self.parameter_name,
            "value": self.value() or "",
            "kept": sorted((k, v[-1] if isinstance(v, list) else v) for k, v in kept.items()),
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }


class PersonFilter(_TextFilter):
    title = _("person (e-mail)")
    parameter_name = "person"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip().lower()
        if not value:
            return queryset
        return queryset.filter(
            Q(subject__email__iexact=value)
            | Q(actor__email__iexact=value)
            | Q(detail__person__iexact=value)
            | Q(detail__username__iexact=value)
        )


class InstitutionCodeFilter(_TextFilter):
    title = _("institution (НЕИСПУО code)")
    parameter_name = "institution_code"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(institution__code=value) if value else queryset


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    """The access audit: read, filter, export; never change or delete."""

    list_display = ["created_at", "kind", "actor", "subject", "institution", "ip", "detail_text"]
    list_filter = [
        "kind",
        ("created_at", admin.DateFieldListFilter),
        PersonFilter,
        InstitutionCodeFilter,
    ]
    date_hierarchy = "created_at"
    search_fields = ["institution__code", "actor__email", "subject__email"]
    list_select_related = ["actor", "subject", "institution"]
    readonly_fields = [f.name for f in AccountEvent._meta.fields]
    change_list_template = "admin/accounts/accountevent/change_list.html"
    show_full_result_count = False
    actions = None

    @admin.display(description=_("detail"))
    def detail_text(self, event):
        return audit.detail_text(event.detail)

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_view),
                name="accounts_accountevent_export",
            )
        ] + super().get_urls()

    def export_view(self, request):
        """The list as filtered on the page, as CSV for Excel."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        events = changelist.get_queryset(request).select_related("actor", "subject", "institution")
        response = HttpResponse(
            audit.export_csv(events.iterator(chunk_size=2000)),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="access-audit-{stamp}.csv"'
        return response

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "export_url": reverse("admin:accounts_accountevent_export"),
        }
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
