from django.contrib import admin

from mailbridge.models import OutboundMail


@admin.register(OutboundMail)
class OutboundMailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "subject", "state", "attempts", "sent_at"]
    list_filter = ["state", "kind"]
    search_fields = ["subject", "message_id", "key"]
    raw_id_fields = ["ticket"]
