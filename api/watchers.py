"""People on a request through the API: list, add and remove watchers (tickets.actions.people).

Mixed into TicketViewSet: GET and POST /api/v1/tickets/{reference}/watchers/,
DELETE /api/v1/tickets/{reference}/watchers/{id}/. Reading needs the "read"
scope, adding and removing "act"; the domain decides who may add whom.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.models import User
from api import schema
from api.authentication import scopes_of
from api.errors import ApiError
from api.idempotency import idempotent
from api.serializers import StrictSerializer
from tickets import actions
from tickets.models import Channel, Ticket, Watcher


class WatcherSerializer(serializers.ModelSerializer):
    email = serializers.CharField(source="address", help_text="Where the replies go.")
    name = serializers.SerializerMethodField(help_text="The person's name; empty for an address.")
    has_account = serializers.SerializerMethodField(
        help_text="A person with an account (who also sees the request in the portal)."
    )
    added_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Watcher
        fields = ["id", "email", "name", "has_account", "source", "added_at"]

    def get_name(self, watcher) -> str:
        return watcher.user.full_name if watcher.user_id else ""

    def get_has_account(self, watcher) -> bool:
        return watcher.user_id is not None


class WatcherAddSerializer(StrictSerializer):
    email = serializers.EmailField(
        max_length=254,
        help_text="A person's address (they are added as that person) or any address "
        "(support staff only).",
    )


REFERENCE = OpenApiParameter(
    "reference", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. 26-000123"
)
WATCHER_ID = OpenApiParameter("watcher_id", OpenApiTypes.INT, OpenApiParameter.PATH)


def _ticket(request, reference) -> Ticket:
    ticket = Ticket.objects.visible_to(request.user).filter(reference=reference).first()
    if ticket is None:
        raise ApiError(_("No such request."), code="not_found", status_code=404)
    return ticket


def _require_act(request) -> None:
    if "act" not in scopes_of(request):
        raise ApiError(
            _("This token may not do this (it lacks the “%(scope)s” scope).") % {"scope": "act"},
            code="scope",
            status_code=403,
        )


def _rows(ticket):
    return Watcher.objects.filter(ticket=ticket).select_related("user").order_by("created_at", "id")


class WatcherActions:
    """The watchers endpoints of a ticket (a mixin of TicketViewSet)."""

    @extend_schema(
        methods=["GET"],
        summary="People and addresses on a request besides its requester",
        description="Each gets the request's public replies by mail. Scope: read.",
        parameters=[REFERENCE],
        responses={200: WatcherSerializer(many=True), **schema.READ_ERRORS},
        tags=["watchers"],
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a person or an address to a request",
        description="Support staff add anyone; staff of the request's institution add a "
        "colleague of that institution (by the colleague's address). Adding someone "
        "already on the request answers 200 with their row. Scope: act.",
        parameters=[REFERENCE],
        request=WatcherAddSerializer,
        responses={201: WatcherSerializer, 200: WatcherSerializer, **schema.WRITE_ERRORS},
        examples=[
            OpenApiExample("address", value={"email": "parent@example.org"}, request_only=True)
        ],
        tags=["watchers"],
    )
    @action(detail=True, methods=["get", "post"], url_path="watchers", url_name="watchers")
    def watchers(self, request, reference=None):
        ticket = _ticket(request, reference)
        if request.method == "GET":
            return Response(WatcherSerializer(_rows(ticket), many=True).data)
        _require_act(request)
        serializer = WatcherAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"].strip().lower()

        def add():
            before = set(Watcher.objects.filter(ticket=ticket).values_list("id", flat=True))
            person = User.objects.filter(email__iexact=email, is_active=True).first()
            watcher = actions.add_watcher(
                ticket,
                actor=request.user,
                user=person,
                email="" if person is not None else email,
                source=Watcher.Source.API,
                channel=Channel.API,
            )
            code = status.HTTP_200_OK if watcher.pk in before else status.HTTP_201_CREATED
            return Response(WatcherSerializer(watcher).data, status=code)

        return idempotent(request, add)

    @extend_schema(
        summary="Take a person or an address off a request",
        description="Support staff, the requester, whoever added them, or the person "
        "themselves. Scope: act.",
        parameters=[REFERENCE, WATCHER_ID],
        request=None,
        responses={204: None, **schema.WRITE_ERRORS},
        tags=["watchers"],
    )
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"watchers/(?P<watcher_id>\d{1,18})",
        url_name="watcher",
    )
    def watcher_remove(self, request, reference=None, watcher_id=None):
        ticket = _ticket(request, reference)
        _require_act(request)
        watcher = _rows(ticket).filter(pk=watcher_id).first()
        if watcher is None:
            raise ApiError(
                _("This person is not on the request."), code="not_found", status_code=404
            )
        actions.remove_watcher(watcher, actor=request.user, channel=Channel.API)
        return Response(status=status.HTTP_204_NO_CONTENT)
