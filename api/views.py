"""The REST API, version 1: the pages' rules for machines.

Reads start from ``visible_to`` (tickets, messages, files, articles), so what
exists but may not be seen answers 404; writes go through ``tickets.actions``
with channel "api", and a DomainError becomes the same refusal, in the same
words, that people see in the portal (api/errors.py turns it into HTTP).
A token is limited further by its scopes (api/permissions.py).
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Prefetch, Q
from django.http import FileResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Institution, Region, User
from accounts.permissions import filing_institution_ids, followed_institution_ids
from api import schema
from api.authentication import BearerTokenAuthentication, scopes_of
from api.errors import ApiError
from api.errors import body as error_body
from api.idempotency import idempotent
from api.models import ApiToken
from api.pagination import Cursor, TicketCursor
from api.permissions import HasScope
from api.serializers import (
    AnnouncementSerializer,
    ArticleDetailSerializer,
    ArticleSerializer,
    AssignSerializer,
    AttachmentSerializer,
    CompetenceSerializer,
    CreateSerializer,
    EscalateSerializer,
    InstitutionSerializer,
    LinkSerializer,
    MergeSerializer,
    MessageWithFilesSerializer,
    ProfileSerializer,
    RateSerializer,
    RegionSerializer,
    ReplySerializer,
    SearchHitSerializer,
    StatusSerializer,
    SuggestionSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TicketUpdateSerializer,
)
from api.watchers import WatcherActions
from console.filters import TicketFilter
from helpdesk.bounds import BoundedDateTimeField
from helpdesk.uploads import UploadRejected, check_files
from kb.announcements import CONSOLE, PORTAL, announcements_for
from kb.models import Article
from kb.search import search_articles, suggest_articles
from tickets import actions, policies, ratelimit
from tickets.models import (
    Attachment,
    Channel,
    Competence,
    Message,
    Tag,
    Ticket,
    TicketFieldValue,
)

# A JSON body larger than this is refused before it is parsed (413); a
# multipart body may carry the files the portal accepts, plus the form.
MAX_JSON_BYTES = 256 * 1024
MULTIPART_OVERHEAD = 1024 * 1024
SEARCH_LIMIT = 30
UPLOAD_PARSERS = [JSONParser, MultiPartParser, FormParser]


def max_body_bytes(request) -> int:
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("multipart/"):
        return settings.HELPDESK["MAX_REQUEST_BYTES"] + MULTIPART_OVERHEAD
    return MAX_JSON_BYTES


class ApiView:
    """What every v1 view shares: token first, scopes, size limits, one error shape."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, HasScope]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(length)
        except ValueError:
            raise ApiError(_("The Content-Length header is not valid."), code="invalid") from None
        if length > max_body_bytes(request):
            raise ApiError(_("The request is too large."), code="too_large", status_code=413)
        super().initial(request, *args, **kwargs)


@csrf_exempt
def not_found(request, *args, **kwargs):
    """A path under /api/v1/ that names nothing: 404 in the API's error shape."""
    return JsonResponse(error_body("not_found", _("Not found.")), status=404)


class AnyRenderer(BaseRenderer):
    """Lets a file download answer whatever the client accepts."""

    media_type = "application/octet-stream"
    format = "bin"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


# --- tickets ---------------------------------------------------------------------------


class MomentFilter(filters.IsoDateTimeFilter):
    """`updated_since`: an ISO 8601 moment from 1990 to 2100, else a 400 (never a failed query)."""

    field_class = BoundedDateTimeField


class ApiTicketFilter(TicketFilter):
    """The console's filters, plus `updated_since` for incremental sync."""

    updated_since = MomentFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label=_("Changed at or after (ISO 8601)"),
    )


def ticket_or_404(request, reference) -> Ticket:
    ticket = (
        Ticket.objects.visible_to(request.user)
        .select_related("institution", "competence", "region", "assignee", "merged_into")
        .filter(reference=reference)
        .first()
    )
    if ticket is None:
        raise ApiError(_("No such request."), code="not_found", status_code=404)
    return ticket


def other_ticket(request, reference, field: str) -> Ticket:
    """A second request named in the body (merge target, link): must be visible, else 400."""
    ticket = Ticket.objects.visible_to(request.user).filter(reference=reference).first()
    if ticket is None:
        raise ApiError(
            _("There is no request %(ref)s you may see.") % {"ref": reference},
            code="invalid",
            field=field,
        )
    return ticket


def allowed_actions(user, ticket: Ticket) -> list[str]:
    """What the caller may do on the ticket, as the pages show it (for clients' buttons)."""
    if policies.may_see_internal(user):
        names = ["reply", "note", "status", "assign", "escalate", "merge", "link", "update"]
        if ticket.is_open and ticket.assignee_id is None:
            names.insert(0, "take")
        return names
    can = policies.requester_actions(user, ticket, timezone.now())
    names = []
    if can.can_reply:
        names.append("reply")
    if can.can_solve:
        names.append("solve")
    if can.can_reopen:
        names.append("reopen")
    if can.can_rate:
        names.append("rate")
    return names


REFERENCE = OpenApiParameter(
    "reference", OpenApiTypes.STR, OpenApiParameter.PATH, description="e.g. 26-000123"
)
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (a UUID). A retried POST with the same key is done once "
    "and answered with the first answer (header Idempotent-Replayed: true).",
)
TICKET_EXAMPLE = OpenApiExample(
    "request",
    value={
        "reference": "26-000123",
        "subject": "Дипломата не се качва",
        "status": "open",
        "priority": "normal",
        "channel": "api",
        "tier": "regional",
        "institution": "2206409",
        "competence": "diplomas",
        "region": "22",
        "assignee": "Експерт X",
        "is_incident": False,
        "merged_into": None,
        "created_at": "2026-03-02T09:15:00+02:00",
        "updated_at": "2026-03-02T10:01:12+02:00",
        "resolved_at": None,
        "first_response_due": "2026-03-02T13:15:00+02:00",
        "resolution_due": "2026-03-04T09:15:00+02:00",
        "sla_breached": False,
        "message_count": 2,
        "last_message_id": 4711,
    },
    response_only=True,
)


def action_schema(summary, request, *, description="", response=TicketSerializer):
    return extend_schema(
        summary=summary,
        description=description,
        request=request,
        parameters=[REFERENCE],
        responses={200: response, **schema.WRITE_ERRORS},
        tags=["actions"],
    )


@extend_schema_view(
    list=extend_schema(
        summary="List the requests the caller may see",
        description="Newest change first, a cursor page at a time (follow `next`). "
        "For incremental sync pass `updated_since` (the time of your last sync) and "
        "`ordering=updated_at`; every filter of the console works here too.",
        parameters=[
            OpenApiParameter("page_size", OpenApiTypes.INT, description="1 to 200 (default 50)"),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next` or `previous`."),
        ],
        responses={200: TicketSerializer(many=True), **schema.READ_ERRORS, 400: schema.INVALID},
        examples=[TICKET_EXAMPLE],
        tags=["tickets"],
    ),
    retrieve=extend_schema(
        summary="One request with its conversation",
        description="Internal notes are included for support staff only; "
        "`allowed_actions` lists what the caller may do now.",
        parameters=[REFERENCE],
        responses={200: TicketDetailSerializer, **schema.READ_ERRORS},
        tags=["tickets"],
    ),
    create=extend_schema(
        summary="File a request for an institution",
        description="The caller must be allowed to file for the institution (its staff, "
        "or a service account bound to it). Scope: file.",
        parameters=[IDEMPOTENCY],
        request=CreateSerializer,
        responses={201: TicketSerializer, **schema.WRITE_ERRORS, 422: schema.MISMATCH},
        examples=[
            OpenApiExample(
                "file",
                value={
                    "subject": "Не мога да вляза",
                    "text": "Паролата не работи от вчера.",
                    "institution": "2206409",
                    "competence": "login",
                },
                request_only=True,
            ),
            TICKET_EXAMPLE,
        ],
        tags=["tickets"],
    ),
    partial_update=extend_schema(
        summary="Change priority or competence (support staff)",
        parameters=[REFERENCE],
        request=TicketUpdateSerializer,
        responses={200: TicketSerializer, **schema.WRITE_ERRORS},
        tags=["tickets"],
    ),
)
class TicketViewSet(
    ApiView,
    WatcherActions,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Tickets the caller may see, their conversation, files and actions."""

    lookup_field = "reference"
    lookup_value_regex = r"\d{2}-\d{6,10}"
    pagination_class = TicketCursor
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = ApiTicketFilter
    ordering_fields = ["updated_at", "created_at"]
    ordering = ("-updated_at", "-id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_scopes = {
        "watchers": "read",  # adding (POST) asks for "act" itself (api/watchers.py)
        "watcher_remove": "act",
        "list": "read",
        "retrieve": "read",
        "messages": "read",
        "attachments": "read",
        "create": "file",
        "reply": "reply",
        "add_message": "reply",
        "rate": "reply",
        "partial_update": "act",
        "take": "act",
        "assign": "act",
        "escalate": "act",
        "change_status": "act",
        "merge": "act",
        "link": "act",
    }

    def get_queryset(self):
        user = self.request.user
        tickets = (
            Ticket.objects.visible_to(user)
            .select_related("institution", "competence", "region", "assignee", "merged_into")
            .prefetch_related(
                Prefetch("field_values", queryset=TicketFieldValue.objects.select_related("field"))
            )
        )
        if policies.may_see_internal(user):
            tickets = tickets.prefetch_related(
                Prefetch("tags", queryset=Tag.objects.order_by("key"), to_attr="shown_tags")
            )
        else:
            # Counts and ids from what the caller may read: a note must not
            # show through as a number that grows.
            shown = Q(messages__kind=Message.Kind.PUBLIC)
            tickets = tickets.annotate(
                shown_message_count=Count("messages", filter=shown),
                shown_last_message_id=Max("messages__id", filter=shown),
            )
        return tickets

    def get_serializer_class(self):
        return {
            "retrieve": TicketDetailSerializer,
            "create": CreateSerializer,
            "reply": ReplySerializer,
            "partial_update": TicketUpdateSerializer,
        }.get(self.action, TicketSerializer)

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
            raise ApiError(_("No such request."), code="not_found", status_code=404)
        return ticket

    def _shown(self, ticket: Ticket) -> Ticket:
        """The ticket again, as the caller may read it (counts without notes for requesters)."""
        return self.get_queryset().get(pk=ticket.pk)

    def retrieve(self, request, *args, **kwargs):
        ticket = self.get_object()
        ticket.allowed_actions = allowed_actions(request.user, ticket)
        return Response(TicketDetailSerializer(ticket).data)

    # --- filing -------------------------------------------------------------------

    def create(self, request, *args, **kwargs):
        serializer = CreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return idempotent(request, lambda: self._file(request, serializer.validated_data))

    def _file(self, request, data) -> Response:
        code = data["institution"].strip()
        institution = Institution.objects.select_related("region").filter(code=code).first()
        if institution is None:
            raise ApiError(
                _("There is no institution with code %(code)s.") % {"code": code},
                code="invalid",
                field="institution",
            )
        account = getattr(request.user, "service_account", None)
        if account is not None and account.region_id and institution.region_id != account.region_id:
            raise ApiError(
                _("This service account may file only for institutions of its region."),
                code="forbidden",
                status_code=403,
                field="institution",
            )
        ratelimit.check_filing_allowed(request.user, institution.pk)
        ticket = actions.file_from_api(
            actor=request.user,
            subject=data["subject"],
            text=data["text"],
            institution=institution,
            competence=data.get("competence"),
            priority=data.get("priority"),
            field_values=data.get("custom_fields") or {},
        )
        ratelimit.record_filing(request.user, institution.pk)
        return Response(TicketSerializer(self._shown(ticket)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        ticket = ticket_or_404(request, kwargs["reference"])
        serializer = TicketUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():  # several changes: all of them or none
            self._update(request, ticket, serializer.validated_data)
        return Response(TicketSerializer(self._shown(ticket)).data)

    def _update(self, request, ticket, data) -> None:
        if "priority" in data:
            actions.change_priority(
                ticket=ticket, actor=request.user, priority=data["priority"], channel=Channel.API
            )
        if "competence" in data:
            actions.change_competence(
                ticket=ticket,
                actor=request.user,
                competence=data["competence"],
                reroute=data.get("reroute", False),
                channel=Channel.API,
            )
        if "custom_fields" in data:
            actions.set_field_values(
                ticket=ticket, actor=request.user, values=data["custom_fields"], channel=Channel.API
            )
        if "tags" in data:
            actions.set_tags(
                ticket=ticket, actor=request.user, names=data["tags"], channel=Channel.API
            )

    # --- the conversation ---------------------------------------------------------------

    def _check_stale(self, ticket: Ticket, seen) -> None:
        shown = self._shown(ticket)
        latest = getattr(shown, "shown_last_message_id", shown.last_message_id)
        if seen is not None and latest and latest > seen:
            raise ApiError(
                _("A newer message exists; read it and send again."),
                code="stale",
                status_code=409,
            )

    def _reply(self, request, ticket, data) -> Response:
        self._check_stale(ticket, data.get("last_message_id"))
        checked = []
        uploads = data.get("files") or []
        if uploads:
            limit = settings.HELPDESK["MAX_FILE_BYTES"]
            for upload in uploads:
                if upload.size > limit:
                    raise ApiError(
                        _("%(name)s: the file is larger than %(mb)s MB")
                        % {"name": upload.name, "mb": limit // (1024 * 1024)},
                        code="invalid",
                        field="files",
                    )
            try:
                checked = check_files([(u.name, u.read()) for u in uploads])
            except UploadRejected as rejected:
                detail = f"{rejected.name}: {rejected.reason}" if rejected.name else rejected.reason
                raise ApiError(detail, code="invalid", field="files") from None
        message = actions.add_message(
            ticket=ticket,
            actor=request.user,
            text=data.get("text") or "",
            kind=data["kind"],
            channel=Channel.API,
            files=checked,
        )
        message = (
            Message.objects.filter(pk=message.pk)
            .prefetch_related(self._files_prefetch(request.user))
            .get()
        )
        return Response(MessageWithFilesSerializer(message).data, status=status.HTTP_201_CREATED)

    def _files_prefetch(self, user):
        return Prefetch(
            "attachments",
            queryset=Attachment.objects.filter(rejected_reason="").exclude(file=""),
            to_attr="shown_files",
        )

    @extend_schema(
        summary="Answer a request (the first API's reply; prefer POST …/messages/)",
        parameters=[REFERENCE, IDEMPOTENCY],
        request=ReplySerializer,
        responses={201: MessageWithFilesSerializer, **schema.WRITE_ERRORS},
        tags=["messages"],
    )
    @action(detail=True, methods=["post"], parser_classes=UPLOAD_PARSERS)
    def reply(self, request, reference=None):
        ticket = ticket_or_404(request, reference)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return idempotent(request, lambda: self._reply(request, ticket, serializer.validated_data))

    @extend_schema(
        methods=["GET"],
        summary="The conversation of a request",
        description="Replies, and internal notes for support staff only; with their files.",
        parameters=[REFERENCE],
        responses={200: MessageWithFilesSerializer(many=True), **schema.READ_ERRORS},
        tags=["messages"],
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a reply (or an internal note, support staff), with files",
        description="JSON, or multipart/form-data with `files` to upload; files are checked "
        "by content like the portal's. `last_message_id` guards against answering "
        "without having read the newest message (409 code stale). Scope: reply.",
        parameters=[REFERENCE, IDEMPOTENCY],
        request={"application/json": ReplySerializer, "multipart/form-data": ReplySerializer},
        responses={
            201: MessageWithFilesSerializer,
            **schema.WRITE_ERRORS,
            422: schema.MISMATCH,
        },
        examples=[
            OpenApiExample("reply", value={"text": "Опитах отново, същото е."}, request_only=True)
        ],
        tags=["messages"],
    )
    @action(
        detail=True,
        methods=["get", "post"],
        url_path="messages",
        url_name="messages",
        parser_classes=UPLOAD_PARSERS,
    )
    def messages(self, request, reference=None):
        ticket = ticket_or_404(request, reference)
        if request.method == "POST":
            if "reply" not in scopes_of(request):
                raise ApiError(
                    _("This token may not do this (it lacks the “%(scope)s” scope).")
                    % {"scope": "reply"},
                    code="scope",
                    status_code=403,
                )
            serializer = ReplySerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            return idempotent(
                request, lambda: self._reply(request, ticket, serializer.validated_data)
            )
        rows = (
            Message.objects.shown_to(request.user)
            .filter(ticket=ticket)
            .select_related("author")
            .prefetch_related(self._files_prefetch(request.user))
            .order_by("created_at", "id")
        )
        return Response(MessageWithFilesSerializer(rows, many=True).data)

    @extend_schema(
        summary="The files of a request",
        description="Files on internal notes are listed for support staff only.",
        parameters=[REFERENCE],
        responses={200: AttachmentSerializer(many=True), **schema.READ_ERRORS},
        tags=["attachments"],
    )
    @action(detail=True, methods=["get"])
    def attachments(self, request, reference=None):
        ticket = ticket_or_404(request, reference)
        rows = Attachment.objects.visible_to(request.user).filter(ticket=ticket)
        return Response(AttachmentSerializer(rows, many=True).data)

    # --- actions ------------------------------------------------------------------

    def _act(self, request, reference, serializer_class, do) -> Response:
        ticket = ticket_or_404(request, reference)
        data = {}
        if serializer_class is not None:
            serializer = serializer_class(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        do(ticket, data)
        return Response(TicketSerializer(self._shown(ticket)).data)

    @action_schema("Take an unassigned request (support staff)", None)
    @action(detail=True, methods=["post"])
    def take(self, request, reference=None):
        return self._act(
            request, reference, None, lambda t, d: actions.take(ticket=t, actor=request.user)
        )

    @action_schema(
        "Assign a request to support staff (or return it to the queue)", AssignSerializer
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, reference=None):
        def do(ticket, data):
            assignee = None
            if data["assignee"]:
                email = data["assignee"].strip().lower()
                assignee = User.objects.filter(email=email, is_active=True).first()
                if assignee is None:
                    raise ApiError(
                        _("There is no support staff with this address."),
                        code="invalid",
                        field="assignee",
                    )
            actions.assign(
                ticket=ticket,
                actor=request.user,
                assignee=assignee,
                reason=data.get("reason", ""),
                channel=Channel.API,
            )

        return self._act(request, reference, AssignSerializer, do)

    @action_schema("Move a request to central support or back to the region", EscalateSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request, reference=None):
        return self._act(
            request,
            reference,
            EscalateSerializer,
            lambda t, d: actions.escalate(
                ticket=t, actor=request.user, tier=d["tier"], reason=d["reason"], channel="api"
            ),
        )

    @action_schema(
        "Change the status",
        StatusSerializer,
        description="Support staff move a request freely along the allowed transitions; "
        "its requester may mark it resolved or reopen it for a while after resolution.",
    )
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def change_status(self, request, reference=None):
        return self._act(
            request,
            reference,
            StatusSerializer,
            lambda t, d: actions.change_status(
                ticket=t,
                actor=request.user,
                status=d["status"],
                reason=d.get("reason", ""),
                channel=Channel.API,
            ),
        )

    @action_schema("Merge this request into another (support staff)", MergeSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request, reference=None):
        def do(ticket, data):
            target = other_ticket(request, data["target"], "target")
            actions.merge(source=ticket, target=target, actor=request.user, channel=Channel.API)

        return self._act(request, reference, MergeSerializer, do)

    @action_schema(
        "Link to a related request or to a mass incident (support staff)", LinkSerializer
    )
    @action(detail=True, methods=["post"])
    def link(self, request, reference=None):
        def do(ticket, data):
            other = data.get("other")
            if data["kind"] == "incident":
                incident = other_ticket(request, other, "other") if other else None
                actions.link_to_incident(
                    ticket=ticket, incident=incident, actor=request.user, channel=Channel.API
                )
                return
            if not other:
                raise ApiError(_("Name the other request."), code="invalid", field="other")
            target = other_ticket(request, other, "other")
            link = actions.unlink_related if data["unlink"] else actions.link_related
            link(ticket=ticket, other=target, actor=request.user, channel=Channel.API)

        return self._act(request, reference, LinkSerializer, do)

    @action_schema("Rate a resolved request (its requester)", RateSerializer)
    @action(detail=True, methods=["post"])
    def rate(self, request, reference=None):
        return self._act(
            request,
            reference,
            RateSerializer,
            lambda t, d: actions.rate(
                ticket=t, actor=request.user, score=d["score"], comment=d.get("comment", "")
            ),
        )


class LegacyTicketViewSet(TicketViewSet):
    """/api/tickets/ as it was before v1 (session first: anonymous callers get 403)."""

    authentication_classes = [SessionAuthentication, BearerTokenAuthentication]
    schema = None


# --- files -----------------------------------------------------------------------------


@extend_schema_view(
    retrieve=extend_schema(
        summary="One file's description",
        responses={200: AttachmentSerializer, **schema.READ_ERRORS},
        tags=["attachments"],
    ),
)
class AttachmentViewSet(ApiView, viewsets.GenericViewSet):
    serializer_class = AttachmentSerializer
    action_scopes = {"retrieve": "read", "download": "read"}

    def get_queryset(self):
        return Attachment.objects.visible_to(self.request.user)

    lookup_value_regex = r"\d{1,19}"

    def get_object(self):
        pk = str(self.kwargs["pk"])
        found = None
        if pk.isdigit() and int(pk) < 2**63:
            found = self.get_queryset().filter(pk=int(pk)).first()
        if found is None:
            raise ApiError(_("No such file."), code="not_found", status_code=404)
        return found

    def retrieve(self, request, pk=None):
        return Response(AttachmentSerializer(self.get_object()).data)

    def perform_content_negotiation(self, request, force=False):
        # A download answers whatever Accept says; errors are still JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="Download a file",
        description="Always as an attachment, with the type found by content.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
            **schema.READ_ERRORS,
        },
        tags=["attachments"],
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, AnyRenderer])
    def download(self, request, pk=None):
        attachment = self.get_object()
        try:
            handle = attachment.file.open("rb")
        except OSError:
            raise ApiError(_("No such file."), code="not_found", status_code=404) from None
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.original_name,
            content_type=attachment.content_type or "application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, no-store"
        return response


# --- places and areas ------------------------------------------------------------------


class InstitutionFilter(filters.FilterSet):
    region = filters.CharFilter(field_name="region__code", label=_("Region code"))
    q = filters.CharFilter(method="filter_q", label=_("Code or words of the name"))

    class Meta:
        model = Institution
        fields = ["region", "kind", "is_active"]

    def filter_q(self, queryset, name, value):
        value = value.strip()[:100]
        if value.isdigit():
            return queryset.filter(code__startswith=value)
        for word in value.split()[:5]:
            queryset = queryset.filter(name__icontains=word)
        return queryset


class CodeCursor(Cursor):
    ordering = ("code",)


@extend_schema_view(
    list=extend_schema(
        summary="Institutions (НЕИСПУО directory)",
        responses={200: InstitutionSerializer(many=True), **schema.READ_ERRORS},
        tags=["directory"],
    ),
    retrieve=extend_schema(
        summary="One institution by its НЕИСПУО code",
        responses={200: InstitutionSerializer, **schema.READ_ERRORS},
        tags=["directory"],
    ),
)
class InstitutionViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    queryset = Institution.objects.select_related("region")
    serializer_class = InstitutionSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{1,7}"
    pagination_class = CodeCursor
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = InstitutionFilter


@extend_schema_view(
    list=extend_schema(
        summary="Regional education offices (РУО)",
        responses={200: RegionSerializer(many=True), **schema.READ_ERRORS},
        tags=["directory"],
    ),
    retrieve=extend_schema(
        summary="One region by its code",
        responses={200: RegionSerializer, **schema.READ_ERRORS},
        tags=["directory"],
    ),
)
class RegionViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.all()
    serializer_class = RegionSerializer
    lookup_field = "code"
    lookup_value_regex = r"\d{1,2}"
    pagination_class = None
    filter_backends = []


@extend_schema_view(
    list=extend_schema(
        summary="Competences: the areas a request can be about",
        responses={200: CompetenceSerializer(many=True), **schema.READ_ERRORS},
        tags=["directory"],
    ),
    retrieve=extend_schema(
        summary="One competence by its code",
        responses={200: CompetenceSerializer, **schema.READ_ERRORS},
        tags=["directory"],
    ),
)
class CompetenceViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    queryset = Competence.objects.filter(is_active=True)
    serializer_class = CompetenceSerializer
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,40}"
    pagination_class = None
    filter_backends = []


# --- knowledge base --------------------------------------------------------------------

Q_PARAM = OpenApiParameter("q", OpenApiTypes.STR, required=True, description="The words.")
LANGUAGE_PARAM = OpenApiParameter("language", OpenApiTypes.STR, enum=["bg", "en"])


class ArticleFilter(filters.FilterSet):
    language = filters.ChoiceFilter(choices=[("bg", "bg"), ("en", "en")])
    category = filters.CharFilter(field_name="category__slug")
    updated_since = MomentFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Article
        fields = ["language", "category"]


class ArticleCursor(Cursor):
    ordering = ("-updated_at", "-id")


def words(request, name="q", limit=200) -> str:
    text = " ".join(request.query_params.get(name, "").split())[:limit]
    if not text:
        raise ApiError(_("Say what to look for."), code="invalid", field=name)
    return text


@extend_schema_view(
    list=extend_schema(
        summary="Published knowledge-base articles the caller may read",
        responses={200: ArticleSerializer(many=True), **schema.READ_ERRORS},
        tags=["knowledge base"],
    ),
    retrieve=extend_schema(
        summary="One article, with its Markdown and rendered HTML",
        responses={200: ArticleDetailSerializer, **schema.READ_ERRORS},
        tags=["knowledge base"],
    ),
)
class ArticleViewSet(ApiView, viewsets.ReadOnlyModelViewSet):
    serializer_class = ArticleSerializer
    pagination_class = ArticleCursor
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ArticleFilter
    lookup_value_regex = r"\d{1,18}"

    def get_queryset(self):
        return Article.objects.visible_to(self.request.user).published().select_related("category")

    def get_serializer_class(self):
        return ArticleDetailSerializer if self.action == "retrieve" else ArticleSerializer

    @extend_schema(
        summary="Search the knowledge base",
        description='Inflected Bulgarian forms find each other; "quoted words" must '
        "appear together.",
        parameters=[Q_PARAM, LANGUAGE_PARAM],
        responses={200: SearchHitSerializer(many=True), 400: schema.INVALID, **schema.READ_ERRORS},
        tags=["knowledge base"],
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def search(self, request):
        language = request.query_params.get("language") or None
        if language not in (None, "bg", "en"):
            raise ApiError(_("Choose bg or en."), code="invalid", field="language")
        hits = search_articles(request.user, words(request), language=language, limit=SEARCH_LIMIT)
        return Response(SearchHitSerializer(hits, many=True).data)

    @extend_schema(
        summary="Suggest articles for the text of a request being written",
        parameters=[Q_PARAM],
        responses={200: SuggestionSerializer(many=True), 400: schema.INVALID, **schema.READ_ERRORS},
        tags=["knowledge base"],
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def suggest(self, request):
        return Response(
            SuggestionSerializer(suggest_articles(request.user, words(request)), many=True).data
        )


@extend_schema_view(
    list=extend_schema(
        summary="Announcements shown to the caller now",
        description="Campaigns and outages for the caller's regions (or for all).",
        responses={200: AnnouncementSerializer(many=True), **schema.READ_ERRORS},
        tags=["knowledge base"],
    )
)
class AnnouncementViewSet(ApiView, viewsets.ViewSet):
    def list(self, request):
        place = CONSOLE if policies.may_see_internal(request.user) else PORTAL
        items = announcements_for(request.user, place)
        return Response(AnnouncementSerializer(items, many=True).data)


# --- the caller ------------------------------------------------------------------------


def profile_of(request) -> dict:
    user = request.user
    agent = user.agent
    memberships = list(user.memberships.select_related("institution").order_by("institution__code"))
    codes = dict(
        Institution.objects.filter(
            pk__in=filing_institution_ids(user) | followed_institution_ids(user)
        ).values_list("pk", "code")
    )
    account = getattr(user, "service_account", None)
    token = request.auth if isinstance(request.auth, ApiToken) else None
    return {
        "email": user.email,
        "full_name": user.get_full_name(),
        "language": user.language,
        "is_agent": policies.is_agent(user),
        "is_supervisor": policies.is_supervisor(user),
        "agent": (
            {
                "tier": agent.tier,
                "kind": agent.kind,
                "region": agent.region.code if agent.region_id else None,
            }
            if agent is not None
            else None
        ),
        "memberships": [
            {
                "institution": m.institution.code,
                "institution_name": m.institution.name,
                "role": m.role,
            }
            for m in memberships
        ],
        "filing_institutions": sorted(codes[i] for i in filing_institution_ids(user) if i in codes),
        "followed_institutions": sorted(
            codes[i] for i in followed_institution_ids(user) if i in codes
        ),
        "service_account": (
            {
                "name": account.name,
                "institution": account.institution.code if account.institution_id else None,
                "region": account.region.code if account.region_id else None,
            }
            if account is not None
            else None
        ),
        "scopes": sorted(scopes_of(request)),
        "token": (
            {"name": token.name, "prefix": token.prefix, "expires_at": token.expires_at}
            if token is not None
            else None
        ),
    }


class ProfileView(ApiView, APIView):
    @extend_schema(
        summary="Who the caller is, and what they may see and do",
        responses={200: ProfileSerializer, **schema.READ_ERRORS},
        tags=["profile"],
    )
    def get(self, request):
        return Response(ProfileSerializer(profile_of(request)).data)
