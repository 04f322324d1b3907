from django.contrib import admin

from tickets.models import (
    Attachment,
    CalendarException,
    Competence,
    Message,
    SLAPolicy,
    Ticket,
    TicketEvent,
    WorkingHours,
)


@admin.register(Competence)
class CompetenceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "tier", "order", "is_active"]
    list_filter = ["tier", "is_active"]
    search_fields = ["code", "name", "name_en", "keywords"]
    list_editable = ["order", "is_active"]


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
    inlines = [MessageInline, EventInline]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None):
        # Tickets change through the console (tickets.services), which keeps
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


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "competence", "first_response_minutes", "resolution_minutes"]
    list_filter = ["priority", "competence"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ["region", "weekdays", "opens_at", "closes_at"]


@admin.register(CalendarException)
class CalendarExceptionAdmin(admin.ModelAdmin):
    list_display = ["date", "kind", "region", "note"]
    list_filter = ["kind", "region"]
    date_hierarchy = "date"
