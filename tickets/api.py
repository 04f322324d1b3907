"""A small REST API: list, read, file and answer tickets.

Same rules as the pages: reads start from Ticket.objects.visible_to(), writes
go through tickets.services with channel "api", and domain errors become
HTTP errors with the same messages people see in the portal.
"""

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.models import Institution
from tickets import ratelimit, services
from tickets.errors import Conflict, DomainError, NotAllowed, RateLimited
from tickets.filters import TicketFilter
from tickets.models import Channel, Competence, Message, Priority, Ticket

ERROR_STATUS = {
    NotAllowed: status.HTTP_403_FORBIDDEN,
    Conflict: status.HTTP_409_CONFLICT,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
}


def error_response(error: DomainError) -> Response:
    code = next(
        (http for kind, http in ERROR_STATUS.items() if isinstance(error, kind)),
        status.HTTP_400_BAD_REQUEST,
    )
    body = {"detail": str(error.message), "code": error.code}
    if error.field:
        body["field"] = error.field
    return Response(body, status=code)


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author_display")

    class Meta:
        model = Message
        fields = ["id", "kind", "author", "from_staff", "channel", "body_text", "created_at"]


class TicketSerializer(serializers.ModelSerializer):
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


class TicketCursor(CursorPagination):
    ordering = ("-updated_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class TicketViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Tickets the caller may see. POST files one; POST …/reply/ answers one."""

    lookup_field = "reference"
    lookup_value_regex = r"\d{2}-\d{6,}"
    pagination_class = TicketCursor
    filterset_class = TicketFilter

    def get_queryset(self):
        return Ticket.objects.visible_to(self.request.user).select_related(
            "institution", "competence", "region", "assignee", "merged_into"
        )

    def get_serializer_class(self):
        if self.action == "retrieve":
            return TicketDetailSerializer
        if self.action == "create":
            return CreateSerializer
        if self.action == "reply":
            return ReplySerializer
        return TicketSerializer

    def get_object(self):
        reference = self.kwargs["reference"]
        messages = Message.objects.select_related("author").order_by("created_at", "id")
        if not services.is_agent(self.request.user):
            messages = messages.filter(kind=Message.Kind.PUBLIC)
        ticket = (
            self.get_queryset()
            .select_related("requester")
            .prefetch_related(Prefetch("messages", queryset=messages, to_attr="shown_messages"))
            .filter(reference=reference)
            .first()
        )
        if ticket is None:
            raise NotFound()
        return ticket

    def create(self, request, *args, **kwargs):
        serializer = CreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        institution = Institution.objects.filter(code=data["institution"].strip()).first()
        try:
            if institution is None:
                raise DomainError(
                    _("There is no institution with code %(code)s.")
                    % {"code": data["institution"]},
                    field="institution",
                )
            if not services.is_agent(request.user):
                ratelimit.check_filing_allowed(request.user, institution.pk)
            ticket = services.create_ticket(
                actor=request.user,
                subject=data["subject"],
                text=data["text"],
                channel=Channel.API,
                institution=institution,
                competence=data.get("competence"),
                priority=data.get("priority"),
            )
            if not services.is_agent(request.user):
                ratelimit.record_filing(request.user, institution.pk)
        except DomainError as error:
            return error_response(error)
        return Response(
            TicketSerializer(ticket, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @action(detail=True, methods=["post"])
    def reply(self, request, reference=None):
        ticket = self.get_object()
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        seen = data.get("last_message_id")
        if seen is not None and ticket.last_message_id and ticket.last_message_id > seen:
            return Response(
                {
                    "detail": _("A newer message exists; read it and send again."),
                    "code": "stale",
                    "last_message_id": ticket.last_message_id,
                },
                status=status.HTTP_409_CONFLICT,
            )
        try:
            message = services.add_message(
                ticket=ticket,
                actor=request.user,
                text=data["text"],
                kind=data["kind"],
                channel=Channel.API,
            )
        except DomainError as error:
            return error_response(error)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
