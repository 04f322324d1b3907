"""Admin pages: mailboxes, received mail with its quarantine, bounced addresses, sent mail."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mailbridge.imap import connect, poll_once
from mailbridge.ingest import reprocess
from mailbridge.models import (
    InboundMessage,
    Mailbox,
    QuarantinedMessage,
    UndeliverableAddress,
)
from tickets.models import OutboundMail


class MailboxForm(forms.ModelForm):
    # The stored password is never sent back to the browser; an empty field
    # keeps it.
    password = forms.CharField(
        label=_("password"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored password."),
    )
    forget_password = forms.BooleanField(
        label=_("forget the stored password"),
        required=False,
        help_text=_("For example after switching to a password file."),
    )

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "address",
            "is_active",
            "host",
            "port",
            "security",
            "ca_file",
            "username",
            "password",
            "password_file",
            "inbox_folder",
            "processed_folder",
            "failed_folder",
            "use_idle",
            "poll_seconds",
        ]

    def clean(self):
        data = super().clean()
        if not data.get("password") and not data.get("forget_password"):
            # Keep what is stored; model validation then sees the old value.
            data["password"] = self.instance.password if self.instance.pk else ""
            self.instance.password = data["password"]
        elif data.get("forget_password"):
            data["password"] = ""
        return data


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["name", "address", "host", "security", "is_active", "last_poll_at", "status"]
    list_filter = ["is_active", "security"]
    search_fields = ["name", "address", "host", "username"]
    readonly_fields = [
        "last_poll_at",
        "last_success_at",
        "last_state",
        "last_error",
        "locked_by",
        "locked_until",
    ]
    actions = ["check_connection", "poll_now"]
    fieldsets = [
        (None, {"fields": ["name", "address", "is_active"]}),
        (
            _("Server"),
            {"fields": ["host", "port", "security", "ca_file", "username", "password"]},
        ),
        (_("Password file"), {"fields": ["password_file", "forget_password"]}),
        (
            _("Folders"),
            {"fields": ["inbox_folder", "processed_folder", "failed_folder"]},
        ),
        (_("Waiting for mail"), {"fields": ["use_idle", "poll_seconds"]}),
        (
            _("State"),
            {
                "fields": [
                    "last_poll_at",
                    "last_success_at",
                    "last_state",
                    "last_error",
                    "locked_by",
                    "locked_until",
                ]
            },
        ),
    ]

    @admin.display(description=_("last result"))
    def status(self, obj):
        if obj.last_state == "error":
            return format_html('<span title="{}">⚠ {}</span>', obj.last_error, _("error"))
        return obj.last_state or "—"

    @admin.action(description=_("Check the connection"))
    def check_connection(self, request, queryset):

        for box in queryset:
            try:
                client = connect(box, timeout=15)
                try:
                    status = client.folder_status(box.inbox_folder, ["MESSAGES"])
                finally:
                    client.logout()
            except Exception as error:
                self.message_user(
                    request,
                    _("%(box)s: %(error)s") % {"box": box.name, "error": error},
                    messages.ERROR,
                )
            else:
                count = status.get(b"MESSAGES", 0)
                self.message_user(
                    request,
                    _("%(box)s: connected; %(n)s message(s) waiting in %(folder)s.")
                    % {"box": box.name, "n": count, "folder": box.inbox_folder},
                    messages.SUCCESS,
                )

    @admin.action(description=_("Fetch mail now"))
    def poll_now(self, request, queryset):

        for box in queryset:
            result = poll_once(box)
            level = messages.ERROR if result.state == "error" else messages.INFO
            summary = ", ".join(f"{k}: {v}" for k, v in sorted(result.outcomes.items()))
            self.message_user(
                request,
                f"{box.name}: {result.state} {summary or ''} {result.error}".strip(),
                level,
            )


class InboundMessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "state",
        "outcome",
        "sender",
        "subject",
        "ticket_link",
        "short_reason",
        "attempts",
    ]
    list_filter = ["state", "outcome", "mailbox"]
    search_fields = ["message_id", "sender", "subject", "ticket__reference"]
    date_hierarchy = "created_at"
    exclude = ["raw"]
    readonly_fields = [
        "mailbox",
        "uidvalidity",
        "uid",
        "message_key",
        "message_id",
        "raw_size",
        "raw_digest",
        "sender",
        "subject",
        "state",
        "outcome",
        "ticket",
        "reason",
        "sender_proof",
        "released_by",
        "attempts",
        "created_at",
        "processed_at",
        "raw_link",
        "headers",
    ]
    actions = ["rerun", "release"]
    list_select_related = ["ticket"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("request"))
    def ticket_link(self, obj):
        return obj.ticket.reference if obj.ticket_id else "—"

    @admin.display(description=_("reason"))
    def short_reason(self, obj):
        return (obj.reason[:80] + "…") if len(obj.reason) > 80 else obj.reason

    @admin.display(description=_("raw message"))
    def raw_link(self, obj):
        url = reverse("admin:mailbridge_inboundmessage_raw", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("download .eml"))

    @admin.display(description=_("headers"))
    def headers(self, obj):
        raw = bytes(InboundMessage.objects.filter(pk=obj.pk).values_list("raw", flat=True)[0])
        end = raw.find(b"\r\n\r\n")
        end = raw.find(b"\n\n") if end < 0 else end
        head = raw[: end if end >= 0 else 8192][:8192].decode("utf-8", "replace")
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", head)

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/raw/",
                self.admin_site.admin_view(self.raw_view),
                name="mailbridge_inboundmessage_raw",
            )
        ]
        return urls + super().get_urls()

    def raw_view(self, request, pk):
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        row = get_object_or_404(InboundMessage, pk=pk)
        response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
        return response

    @admin.action(description=_("Run the selected messages again"))
    def rerun(self, request, queryset):

        done, again = 0, 0
        for pk in queryset.values_list("pk", flat=True):
            outcome = reprocess(pk)
            if outcome.outcome == "quarantined":
                again += 1
                self.message_user(
                    request, _("Still quarantined: %(why)s") % {"why": outcome.reason}
                )
            else:
                done += 1
        self.message_user(
            request,
            ngettext("%(n)s message processed.", "%(n)s messages processed.", done) % {"n": done},
            messages.SUCCESS if not again else messages.WARNING,
        )

    @admin.action(description=_("Release held messages: I have checked that the sender wrote them"))
    def release(self, request, queryset):
        released = 0
        for pk in queryset.filter(outcome=InboundMessage.Outcome.HELD).values_list("pk", flat=True):
            outcome = reprocess(pk, released_by=request.user)
            if outcome.outcome in ("created", "followup"):
                released += 1
            else:
                self.message_user(request, outcome.reason, messages.WARNING)
        self.message_user(
            request,
            ngettext("%(n)s message released.", "%(n)s messages released.", released)
            % {"n": released},
            messages.SUCCESS,
        )


admin.site.register(InboundMessage, InboundMessageAdmin)


@admin.register(QuarantinedMessage)
class QuarantinedMessageAdmin(InboundMessageAdmin):
    list_filter = ["mailbox"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(state=InboundMessage.State.QUARANTINED)

    def get_urls(self):
        # The download view is registered once, by the parent admin.
        return admin.ModelAdmin.get_urls(self)


@admin.register(UndeliverableAddress)
class UndeliverableAddressAdmin(admin.ModelAdmin):
    list_display = ["address", "bounce_count", "last_bounce_at", "reason"]
    search_fields = ["address"]
    readonly_fields = ["address", "bounce_count", "last_bounce_at", "reason"]

    def has_add_permission(self, request):
        return False


@admin.register(OutboundMail)
class OutboundMailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "subject", "recipient", "state", "attempts", "sent_at"]
    list_filter = ["state", "kind"]
    search_fields = ["subject", "message_id", "key"]
    raw_id_fields = ["ticket", "ticket_message"]

    @admin.display(description=_("recipient"))
    def recipient(self, row):
        return ", ".join(row.recipients)
