"""Error pages in the site's layout and the reader's language.

Wired in helpdesk/urls.py (handler400/403/404/500), settings.CSRF_FAILURE_VIEW
and settings.MIDDLEWARE (ErrorPageMiddleware: the 405 and 429 answers that
views return without a page). Each page says what happened and where to go
next; the message a view gave PermissionDenied or Http404 ("The console is for
support staff.") is shown.

The 400 and 500 pages are drawn without the request's context processors (no
database, no session): whatever broke the request must not break its error
page too. Every page falls back to plain HTML if even that fails.
"""

import logging
import math
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.template import loader
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token

from helpdesk.errors import RateLimited

log = logging.getLogger(__name__)

TEMPLATE = "errors/error.html"

# Messages Django itself puts into Http404 (get_object_or_404, generic views,
# pagination), written for developers: not shown to people.
_TECHNICAL = re.compile(
    r"matches the given query\.$|^Invalid page|allow_empty|^Page is not|^Directory indexes"
    r"|does not exist$|found matching the query$"
)


def _texts(status: int) -> tuple[str, str]:
    """Return (title, explanation) of the page for `status`, in the active language."""
    texts = {
        400: (
            _("The request could not be understood"),
            _(
                "Your browser sent something this site cannot read, perhaps an "
                "address that was cut or changed. Go back and try again."
            ),
        ),
        403: (
            _("You may not open this page"),
            _(
                "Your account does not give access to this page. If you think it "
                "should, ask your institution's director or write to support."
            ),
        ),
        404: (
            _("Page not found"),
            _(
                "There is no page at this address, or it is not yours to see. "
                "Check the address, or start again from one of the pages below."
            ),
        ),
        405: (
            _("This page cannot be opened this way"),
            _(
                "The address is right, but it only answers a form (a button on "
                "the site), not a link or a reload. Start again from the page the "
                "form is on."
            ),
        ),
        429: (
            _("Too many requests for now"),
            _(
                "You have sent more than the limit allows in a short time. Wait a little "
                "and try again."
            ),
        ),
        500: (
            _("Something went wrong on our side"),
            _(
                "The page could not be shown because of an error in the helpdesk. "
                "It has been recorded and will be looked into. Please try again in "
                "a few minutes."
            ),
        ),
    }
    return texts.get(status, texts[500])


def _csrf_texts() -> tuple[str, str]:
    return (
        _("The form has expired"),
        _(
            "For your safety a form can only be sent from a page that is still "
            "open in this browser with cookies allowed. Go back, reload the page "
            "and send the form again; what you typed may need to be entered anew."
        ),
    )


def exception_message(exception) -> str:
    """Return the message a view gave Http404 / PermissionDenied, if it is one for people."""
    args = getattr(exception, "args", ())
    if not args:
        return ""
    message = args[0]
    if isinstance(message, Promise):
        message = str(message)
    if not isinstance(message, str):
        return ""  # Resolver404 carries a dict of the patterns tried
    message = message.strip()
    if _TECHNICAL.search(message):
        return ""
    return message[:500]


def _same_site_referer(request) -> str:
    referer = request.META.get("HTTP_REFERER", "")
    if not referer:
        return ""
    try:
        host = request.get_host()
    except Exception:  # DisallowedHost: no way back is better than a second error
        return ""
    if not url_has_allowed_host_and_scheme(referer, allowed_hosts={host}):
        return ""
    parts = urlsplit(referer)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _fallback(status: int, title: str, explanation: str) -> str:
    """Plain HTML for when even the template cannot be drawn."""
    language = (get_language() or "bg")[:2]
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
        f'<p>{escape(explanation)}</p><p><a href="/">НЕИСПУО</a></p></body></html>'
    )


def render_error(
    request,
    status: int,
    *,
    message: str = "",
    minimal: bool = False,
    csrf: bool = False,
    retry_after: int | None = None,
):
    """Return the error page for `status` as an HttpResponse.

    `minimal` draws it without the request's context processors (the 400 and
    500 pages); `retry_after` (seconds) also sets the Retry-After header.
    """
    title, explanation = _csrf_texts() if csrf else _texts(status)
    context = {
        "status": status,
        "title": title,
        "message": message,
        "explanation": explanation,
        "minimal": minimal,
        "csrf": csrf,
        "SUPPORT_ADDRESS": settings.HELPDESK["SUPPORT_ADDRESS"],
        "request_path": request.path,
        # The language switch leads home: an error page never repeats the
        # address it was asked for (a reference, a token in the query).
        "language_next": {"bg": "/", "en": "/"},
        "is_get": request.method in ("GET", "HEAD"),
        "back_url": _same_site_referer(request) if not minimal else "",
        "retry_minutes": max(1, math.ceil(retry_after / 60)) if retry_after else None,
    }
    try:
        if minimal:
            content = loader.get_template(TEMPLATE).render(context)
        else:
            content = loader.render_to_string(TEMPLATE, context, request=request)
    except Exception:
        log.exception("the error page for %s could not be drawn", status)
        content = _fallback(status, title, explanation)
    response = HttpResponse(content, status=status)
    if retry_after:
        response["Retry-After"] = str(int(math.ceil(retry_after)))
    return response


# --- the handlers (helpdesk/urls.py, settings.CSRF_FAILURE_VIEW) ------------------------


@requires_csrf_token
def bad_request(request, exception):
    return render_error(request, 400, minimal=True)


@requires_csrf_token
def permission_denied(request, exception):
    return render_error(request, 403, message=exception_message(exception))


@requires_csrf_token
def page_not_found(request, exception):
    return render_error(request, 404, message=exception_message(exception))


def server_error(request):
    return render_error(request, 500, minimal=True)


@requires_csrf_token
def csrf_failure(request, reason=""):
    return render_error(request, 403, csrf=True)


# --- answers that views give without a page ----------------------------------------------


def _wants_html(request) -> bool:
    if request.path.startswith("/api/"):
        return False
    accept = request.headers.get("Accept", "")
    return "json" not in accept or "text/html" in accept


def _bare(response) -> bool:
    return not getattr(response, "streaming", False) and not response.content


class ErrorPageMiddleware:
    """Give a page to the answers views return bare, and say goodbye after logging out.

    - 405 from require_POST / require_http_methods (HttpResponseNotAllowed has
      no body): the 405 page, with the same Allow header.
    - RateLimited that a view lets through, or a bare 429: the 429 page with
      Retry-After. (The portal's filing form answers 429 itself, with the form
      and what was typed.)
    - A logout that redirects: "You have logged out." on the next page.

    Put it after MessageMiddleware, so that the goodbye message is stored.
    """

    LOGOUT_URL_NAMES = frozenset({"logout", "oidc_logout"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        status = response.status_code
        if status in (405, 429) and _bare(response) and _wants_html(request):
            page = render_error(
                request, status, retry_after=_int_header(response.get("Retry-After"))
            )
            for header in ("Allow", "Retry-After"):
                if header in response:
                    page[header] = response[header]
            # Django logged the bare answer already (not as an error).
            page._has_been_logged = True
            return page
        if request.method == "POST" and 300 <= status < 400 and self._logged_out(request):
            messages.info(request, _("You have logged out."))
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, RateLimited) and _wants_html(request):
            return render_error(
                request,
                429,
                message=str(exception.message),
                retry_after=getattr(exception, "retry_after", None) or 60,
            )
        return None

    def _logged_out(self, request) -> bool:
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name not in self.LOGOUT_URL_NAMES:
            return False
        user = getattr(request, "user", None)
        return user is not None and not user.is_authenticated


def _int_header(value) -> int | None:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
