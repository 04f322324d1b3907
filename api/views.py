"""A small REST API: list, read, file and answer tickets.

Same rules as the pages: reads start from Ticket.objects.visible_to(), writes
go through tickets.actions with channel "api", and domain errors become
HTTP errors with the same messages people see in the portal.
"""

from django.db.models import Count, Max, Prefetch, Q
from django.utils.translation import gettext as _
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from accounts.models import Institution
from api.serializers import (
    CreateSerializer,
    MessageSerializer,
    ReplySerializer,
    TicketDetailSerializer,
    TicketSerializer,
)
from console.filters import TicketFilter
from helpdesk.errors import Conflict, DomainError, NotAllowed, RateLimited
from tickets import actions, policies, ratelimit
from tickets.models import Channel, Message, Ticket

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
        user = self.request.user
        tickets = Ticket.objects.visible_to(user).select_related(
            "institution", "competence", "region", "assignee", "merged_into"
        )
        if not policies.may_see_internal(user):
            # Counts and ids from what the caller may read: a note must not
            # show through as a number that grows.
            shown = Q(messages__kind=Message.Kind.PUBLIC)
            tickets = tickets.annotate(
                shown_message_count=Count("messages", filter=shown),
                shown_last_message_id=Max("messages__id", filter=shown),
            )
        return tickets

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
        messages = (
            Message.objects.shown_to(self.request.user)
            .select_related("author")
            .order_by("created_at", "id")
        )
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
            if not policies.is_agent(request.user):
                ratelimit.check_filing_allowed(request.user, institution.pk)
            ticket = actions.file_from_api(
                actor=request.user,
                subject=data["subject"],
                text=data["text"],
                institution=institution,
                competence=data.get("competence"),
                priority=data.get("priority"),
            )
            if not policies.is_agent(request.user):
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
        latest = getattr(ticket, "shown_last_message_id", ticket.last_message_id)
        if seen is not None and latest and latest > seen:
            return Response(
                {
                    "detail": _("A newer message exists; read it and send again."),
                    "code": "stale",
                    "last_message_id": latest,
                },
                status=status.HTTP_409_CONFLICT,
            )
        try:
            message = actions.add_message(
                ticket=ticket,
                actor=request.user,
                text=data["text"],
                kind=data["kind"],
                channel=Channel.API,
            )
        except DomainError as error:
            return error_response(error)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
