"""Cursor pages: stable under inserts, no OFFSET, and a bad cursor is a 400 (never a 5xx)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

from api.errors import ApiError
from helpdesk.bounds import parse_bounded_datetime


def _bad_cursor():
    return ApiError(_("The cursor is not valid; start from the first page."), code="invalid_cursor")


class Cursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-id",)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _bad_cursor() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        """Refuse a position the ordering column cannot hold before it reaches the database."""
        field = self.ordering[0].lstrip("-") if self.ordering else ""
        if len(position) > 64:
            raise _bad_cursor()
        if field == "id":
            if not (position.isascii() and position.isdigit() and int(position) < 2**63):
                raise _bad_cursor()
        elif field.endswith("_at") and parse_bounded_datetime(position) is None:
            raise _bad_cursor()

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw and not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 6 and int(raw) > 0):
            raise ApiError(
                _("page_size must be a whole number from 1 to %(n)s.") % {"n": self.max_page_size},
                code="invalid",
                field="page_size",
            )
        return super().get_page_size(request)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            # A cursor whose position does not fit the ordering column. Positions are
            # checked before the query (_check_position): a database error here would
            # leave the request's transaction aborted, so none is caught.
            raise _bad_cursor() from None


class TicketCursor(Cursor):
    ordering = ("-updated_at", "-id")
