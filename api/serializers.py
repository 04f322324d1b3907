"""How the API shows tickets, messages, files, places and articles, and what a caller may send.

Write serializers refuse fields they do not know (a typo is an error, not a
silent no-op) and bound every number to what the database can hold.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import Institution, Region
from tickets.models import (
    TAG_MAX,
    TAGS_PER_TICKET,
    Attachment,
    Competence,
    Message,
    Priority,
    Status,
    Ticket,
    Tier,
)

BIGINT_MAX = 2**63 - 1
TEXT_MAX = 20000


class StrictSerializer(serializers.Serializer):
    """A write serializer that answers 400 for fields it does not know."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


def reference_field(**kwargs):
    return serializers.RegexField(r"^\d{2}-\d{6,10}$", max_length=16, **kwargs)


# --- reading ---------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "created_at", "download_url"]

    def get_download_url(self, attachment) -> str:
        return reverse("api:v1:attachment-download", args=[attachment.pk])


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author_display")

    class Meta:
        model = Message
        fields = ["id", "kind", "author", "from_staff", "channel", "body_text", "created_at"]


class MessageWithFilesSerializer(MessageSerializer):
    attachments = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "attachments"]

    def get_attachments(self, message) -> list[dict]:
        files = getattr(message, "shown_files", None)
        if files is None:
            files = [a for a in message.attachments.all() if a.file and not a.rejected_reason]
        return AttachmentSerializer(files, many=True).data


class TicketSerializer(serializers.ModelSerializer):
    message_count = serializers.SerializerMethodField()
    custom_fields = serializers.SerializerMethodField(
        help_text="Answers to the fields of the competence: {field key: value}."
    )
    tags = serializers.SerializerMethodField(help_text="The staff's tags (empty for requesters).")
    last_message_id = serializers.SerializerMethodField()
    institution = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    competence = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    assignee = serializers.StringRelatedField(allow_null=True)
    merged_into = serializers.SlugRelatedField(
        slug_field="reference", read_only=True, allow_null=True
    )

    class Meta:
        model = Ticket
        fields = [
            "reference",
            "subject",
            "status",
            "priority",
            "channel",
            "tier",
            "institution",
            "competence",
            "region",
            "assignee",
            "is_incident",
            "merged_into",
            "created_at",
            "updated_at",
            "resolved_at",
            "first_response_due",
            "resolution_due",
            "sla_breached",
            "message_count",
            "last_message_id",
            "custom_fields",
            "tags",
        ]

    def get_custom_fields(self, ticket) -> dict[str, str]:
        return {v.field.key: v.value for v in ticket.field_values.all()}

    def get_tags(self, ticket) -> list[str]:
        # The view prefetches them (as shown_tags) only for support staff.
        return [t.name for t in getattr(ticket, "shown_tags", ())]

    def get_message_count(self, ticket) -> int:
        # The view annotates what a requester may read; staff read everything.
        return getattr(ticket, "shown_message_count", ticket.message_count)

    def get_last_message_id(self, ticket) -> int | None:
        return getattr(ticket, "shown_last_message_id", ticket.last_message_id)


class TicketDetailSerializer(TicketSerializer):
    messages = serializers.SerializerMethodField()
    requester = serializers.CharField(source="requester_display")
    allowed_actions = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "requester", "allowed_actions", "messages"]

    def get_messages(self, ticket) -> list[dict]:
        return MessageSerializer(ticket.shown_messages, many=True).data

    def get_allowed_actions(self, ticket) -> list[str]:
        return list(getattr(ticket, "allowed_actions", []))


class InstitutionSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Institution
        fields = ["code", "name", "kind", "region", "municipality", "town", "is_active"]


class RegionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["code", "name", "name_en"]


class CompetenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Competence
        fields = ["code", "name", "name_en", "hint", "hint_en", "tier"]


class ArticleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    language = serializers.CharField()
    title = serializers.CharField()
    summary = serializers.CharField()
    category = serializers.CharField(source="category.slug", default=None, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), source="tag_list")
    visibility = serializers.CharField()
    updated_at = serializers.DateTimeField()
    url = serializers.CharField(source="get_absolute_url")


class ArticleDetailSerializer(ArticleSerializer):
    body = serializers.CharField(help_text="Markdown source.")
    body_html = serializers.SerializerMethodField(help_text="Rendered and sanitised HTML.")

    def get_body_html(self, article) -> str:
        return str(article.rendered().html)


class SearchHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.CharField()
    language = serializers.CharField(source="article.language")
    title_html = serializers.CharField(help_text="The title with the found words in <mark>.")
    snippet_html = serializers.CharField(help_text="A passage with the found words in <mark>.")


class SuggestionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    summary = serializers.CharField()
    url = serializers.CharField()


class AnnouncementSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    text = serializers.CharField()
    article_url = serializers.CharField()
    link_text = serializers.CharField()


class ProfileSerializer(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField()
    language = serializers.CharField()
    is_agent = serializers.BooleanField()
    is_supervisor = serializers.BooleanField()
    agent = serializers.DictField(allow_null=True)
    memberships = serializers.ListField(child=serializers.DictField())
    filing_institutions = serializers.ListField(child=serializers.CharField())
    followed_institutions = serializers.ListField(child=serializers.CharField())
    service_account = serializers.DictField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())
    token = serializers.DictField(allow_null=True)


# --- writing ---------------------------------------------------------------------------


class CustomFieldsField(serializers.DictField):
    """{field key: value} answering the competence's fields; the filing action checks each value."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text", "Answers to the fields of the competence: {field key: value}."
        )
        super().__init__(child=serializers.CharField(max_length=255, allow_blank=True), **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, dict) and len(data) > 50:
            raise serializers.ValidationError(_("Too many fields."))
        return super().to_internal_value(data)


class CreateSerializer(StrictSerializer):
    subject = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=TEXT_MAX)
    institution = serializers.CharField(max_length=7, help_text="НЕИСПУО institution code")
    competence = serializers.SlugRelatedField(
        slug_field="code", queryset=Competence.objects.filter(is_active=True), required=False
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    custom_fields = CustomFieldsField(required=False)


class TicketUpdateSerializer(StrictSerializer):
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    competence = serializers.SlugRelatedField(
        slug_field="code", queryset=Competence.objects.filter(is_active=True), required=False
    )
    reroute = serializers.BooleanField(
        required=False, default=False, help_text="With competence: route the request again."
    )
    custom_fields = CustomFieldsField(required=False)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX, allow_blank=False),
        max_length=TAGS_PER_TICKET,
        required=False,
        help_text="Staff only: the request's tags, all of them (replaces the list).",
    )


class ReplySerializer(StrictSerializer):
    text = serializers.CharField(max_length=TEXT_MAX, allow_blank=True, required=False)
    kind = serializers.ChoiceField(choices=Message.Kind.choices, default=Message.Kind.PUBLIC)
    last_message_id = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=BIGINT_MAX,
        help_text="The newest message id the caller has read; 409 if a newer one exists.",
    )
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True, use_url=False),
        required=False,
        help_text="Files (multipart/form-data), checked by content like the portal's.",
    )

    def validate(self, data):
        if not (data.get("text") or "").strip() and not data.get("files"):
            raise serializers.ValidationError({"text": [_("The text cannot be empty.")]})
        return data


class AssignSerializer(StrictSerializer):
    assignee = serializers.CharField(
        max_length=254,
        allow_null=True,
        help_text="The e-mail address of support staff, or null to return it to the queue.",
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class EscalateSerializer(StrictSerializer):
    tier = serializers.ChoiceField(choices=Tier.choices)
    reason = serializers.CharField(max_length=500)


class StatusSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Status.choices)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class MergeSerializer(StrictSerializer):
    target = reference_field(help_text="The request this one is merged into.")


class LinkSerializer(StrictSerializer):
    other = reference_field(
        required=False,
        allow_null=True,
        help_text="The other request (null with kind=incident detaches from the incident).",
    )
    kind = serializers.ChoiceField(
        choices=[("related", _("related")), ("incident", _("mass incident"))], default="related"
    )
    unlink = serializers.BooleanField(default=False, help_text="Remove a related link instead.")


class RateSerializer(StrictSerializer):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)
