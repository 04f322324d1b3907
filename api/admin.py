"""Administration of the API: service accounts and their tokens, webhooks and their log."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from api import webhooks
from api.models import (
    ApiToken,
    Scope,
    ServiceAccount,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from api.service_accounts import save_service_account


class ServiceAccountForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("scopes"), choices=Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ServiceAccount
        fields = ["name", "institution", "region", "scopes", "contact_email", "note", "is_active"]


class TokenInline(admin.TabularInline):
    model = ApiToken
    fk_name = "service_account"
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ServiceAccount)
class ServiceAccountAdmin(admin.ModelAdmin):
    form = ServiceAccountForm
    list_display = ["name", "institution", "region", "scopes", "is_active", "created_at"]
    list_filter = ["is_active", "region"]
    search_fields = ["name", "institution__code", "institution__name"]
    autocomplete_fields = ["institution"]
    inlines = [TokenInline]
    actions = ["issue_token", "revoke_tokens"]

    def save_model(self, request, obj, form, change):
        save_service_account(obj, actor=request.user)

    @admin.action(description=gettext_lazy("Issue a token (shown once)"))
    def issue_token(self, request, queryset):
        for account in queryset:
            _token, secret = ApiToken.issue(
                user=account.user,
                service_account=account,
                name=_("issued %(when)s") % {"when": f"{timezone.localtime():%Y-%m-%d %H:%M}"},
                scopes=account.scopes,
            )
            self.message_user(
                request,
                _("Token for %(name)s (copy it now, it is shown only once): %(secret)s")
                % {"name": account.name, "secret": secret},
                messages.WARNING,
            )

    @admin.action(description=gettext_lazy("Revoke all tokens"))
    def revoke_tokens(self, request, queryset):
        n = ApiToken.objects.filter(service_account__in=queryset, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.message_user(request, _("%(n)s tokens revoked.") % {"n": n})


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "service_account", "prefix", "created_at", "expires_at"]
    list_display += ["last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = ["user", "service_account", "prefix", "created_at", "last_used_at"]
    fields = ["name", "user", "service_account", "prefix", "scopes", "created_at", "expires_at"]
    fields += ["last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # people make their own at /api/v1/tokens/; services above

    @admin.action(description=gettext_lazy("Revoke"))
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(n)s tokens revoked.") % {"n": n})


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=gettext_lazy("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "events", "region", "institution", "contact_email", "secret"]
        fields += ["is_active", "paused_at", "paused_reason"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["name", "url", "region", "institution", "is_active", "paused_at"]
    list_display += ["consecutive_failures"]
    list_filter = ["is_active", "paused_at"]
    autocomplete_fields = ["institution"]
    readonly_fields = ["consecutive_failures", "created_at", "created_by"]
    actions = ["resume"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if change and "paused_at" in form.changed_data and obj.paused_at is None:
            obj.consecutive_failures = 0
        super().save_model(request, obj, form, change)

    @admin.action(description=gettext_lazy("Resume (unpause)"))
    def resume(self, request, queryset):
        n = queryset.update(paused_at=None, paused_reason="", consecutive_failures=0)
        self.message_user(request, _("%(n)s subscriptions resumed.") % {"n": n})


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event", "ticket_reference", "subscription", "state"]
    list_display += ["attempts", "last_status", "next_attempt_at"]
    list_filter = ["state", "event", "subscription"]
    search_fields = ["ticket_reference", "event_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=gettext_lazy("Send again"))
    def resend(self, request, queryset):
        n = webhooks.resend(list(queryset))
        self.message_user(request, _("%(n)s deliveries will be sent again.") % {"n": n})
