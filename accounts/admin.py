from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

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


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "institution", "role"]
    list_filter = ["role", "institution__region"]
    search_fields = ["user__email", "user__full_name", "institution__code", "institution__name"]
    autocomplete_fields = ["user", "institution"]
    list_select_related = ["user", "institution"]


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


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "actor", "institution"]
    list_filter = ["kind"]
    search_fields = ["institution__code", "actor__email"]
    readonly_fields = [f.name for f in AccountEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
