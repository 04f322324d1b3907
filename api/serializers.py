"""How tickets and messages look in the REST API, and what a caller may send."""

from rest_framework import serializers

from tickets.models import Competence, Message, Priority, Ticket


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author_display")

    class Meta:
        model = Message
        fields = ["id", "kind", "author", "from_staff", "channel", "body_text", "created_at"]


class TicketSerializer(serializers.ModelSerializer):
    message_count = serializers.SerializerMethodField()
    last_message_id = serializers.SerializerMethodField()
    institution = serializers.SlugRelatedField(slug_field="code", read_only=True)
    competence = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    assignee = serializers.StringRelatedField()
    merged_into = serializers.SlugRelatedField(slug_field="reference", read_only=True)

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
            "first_response_due",
            "resolution_due",
            "sla_breached",
            "message_count",
            "last_message_id",
        ]

    def get_message_count(self, ticket) -> int:
        # The view annotates what a requester may read; staff read everything.
        return getattr(ticket, "shown_message_count", ticket.message_count)

    def get_last_message_id(self, ticket) -> int | None:
        return getattr(ticket, "shown_last_message_id", ticket.last_message_id)


class TicketDetailSerializer(TicketSerializer):
    messages = serializers.SerializerMethodField()
    requester = serializers.CharField(source="requester_display")

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "requester", "messages"]

    def get_messages(self, ticket):
        return MessageSerializer(ticket.shown_messages, many=True).data


class CreateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=20000)
    institution = serializers.CharField(max_length=7, help_text="НЕИСПУО institution code")
    competence = serializers.SlugRelatedField(
        slug_field="code", queryset=Competence.objects.filter(is_active=True), required=False
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20000)
    kind = serializers.ChoiceField(choices=Message.Kind.choices, default=Message.Kind.PUBLIC)
    last_message_id = serializers.IntegerField(required=False)
