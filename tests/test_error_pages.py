"""Error pages: the site's layout, the reader's language, a way on; refusals are not errors.

This module is also the URL map of its tests (pytest.mark.urls): the site's
own URLs and handlers, plus a few views that fail on purpose.
"""

import logging

import pytest
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404, HttpResponse
from django.test import Client
from django.urls import path
from django.views.decorators.http import require_POST

from helpdesk import urls as site_urls
from helpdesk.errors import RateLimited

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _forbidden(request):
    raise PermissionDenied("The console is for support staff.")


def _missing(request):
    raise Http404("No such request.")


def _bad(request):
    raise BadRequest("broken")


def _boom(request):
    raise RuntimeError("a bug")


def _limited(request):
    error = RateLimited("You have filed 20 requests in the last hour, which is the limit.")
    error.retry_after = 600
    raise error


def _bare_429(request):
    response = HttpResponse(status=429)
    response["Retry-After"] = "120"
    return response


@require_POST
def _post_only(request):
    return HttpResponse("ok")


urlpatterns = [
    *site_urls.urlpatterns,
    path("test-errors/403/", _forbidden),
    path("test-errors/404/", _missing),
    path("test-errors/400/", _bad),
    path("test-errors/500/", _boom),
    path("test-errors/429/", _limited),
    path("test-errors/429-bare/", _bare_429),
    path("test-errors/405/", _post_only),
]
handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500

# What each page says in each language: (status, English title, Bulgarian title).
PAGES = {
    "/test-errors/400/": (
        400,
        "The request could not be understood",
        "Заявката не може да бъде разчетена",
    ),
    "/test-errors/403/": (403, "You may not open this page", "Нямате достъп до тази страница"),
    "/test-errors/404/": (404, "Page not found", "Страницата не е намерена"),
    "/no-such-page/": (404, "Page not found", "Страницата не е намерена"),
    "/test-errors/405/": (
        405,
        "This page cannot be opened this way",
        "Тази страница не се отваря по този начин",
    ),
    "/test-errors/429/": (429, "Too many requests for now", "Твърде много заявки засега"),
    "/test-errors/429-bare/": (429, "Too many requests for now", "Твърде много заявки засега"),
    "/test-errors/500/": (500, "Something went wrong on our side", "Възникна грешка при нас"),
}


@pytest.fixture(autouse=True)
def _production(settings):
    settings.DEBUG = False


def browser(**cookies) -> Client:
    client = Client(raise_request_exception=False, HTTP_ACCEPT="text/html,*/*;q=0.8")
    for name, value in cookies.items():
        client.cookies[name] = value
    return client


def page_text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("url", list(PAGES))
@pytest.mark.parametrize("language", ["bg", "en"])
def test_each_page_in_the_layout_and_the_readers_language(url, language):
    status, english, bulgarian = PAGES[url]
    response = browser().get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == status
    html = page_text(response)
    assert f'<html lang="{language}">' in html
    assert 'class="site-header"' in html and 'class="site-footer"' in html  # base.html
    assert 'data-test="next-steps"' in html and 'href="/"' in html  # a way on
    assert (english if language == "en" else bulgarian) in html
    assert (bulgarian if language == "en" else english) not in html


def test_the_language_cookie_wins_over_the_browser(settings):
    client = browser(**{settings.LANGUAGE_COOKIE_NAME: "en"})
    html = page_text(client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="bg"))
    assert "Page not found" in html


def test_the_language_switch_changes_the_error_page():
    client = browser()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "Page not found" in page_text(client.get("/no-such-page/"))
    client.post("/i18n/setlang/", {"language": "bg", "next": "/"})
    assert "Страницата не е намерена" in page_text(client.get("/no-such-page/"))


def test_the_views_message_is_shown(cast):
    client = browser()
    html = page_text(client.get("/test-errors/403/", HTTP_ACCEPT_LANGUAGE="en"))
    assert 'data-test="error-message">The console is for support staff.<' in html
    # The real console, in Bulgarian, for a teacher: the view's own message, translated.
    client.force_login(cast.teacher_a)
    response = client.get("/console/", HTTP_ACCEPT_LANGUAGE="bg")
    assert response.status_code == 403
    html = page_text(response)
    assert "Конзолата е предназначена за служителите по поддръжката." in html
    assert "Моите заявки" in html  # the teacher's way on: the portal


def test_a_404_from_a_view_keeps_its_message_and_djangos_own_are_hidden(cast):
    client = browser()
    html = page_text(client.get("/test-errors/404/", HTTP_ACCEPT_LANGUAGE="en"))
    assert 'data-test="error-message">No such request.<' in html
    html = page_text(client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "error-message" not in html and "tried" not in html  # no Resolver404 dict


def test_next_steps_fit_the_person(cast):
    client = browser()
    html = page_text(client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en"))
    assert 'href="/accounts/login/"' in html
    assert "no-such-page" not in html  # the address asked for is not repeated
    client.force_login(cast.expert_x)
    html = page_text(client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en"))
    assert 'href="/console/"' in html and "Open the console" in html
    client.force_login(cast.admin)
    html = page_text(client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en"))
    assert 'href="/admin/"' in html


def test_405_keeps_allow_and_429_says_when_to_come_back():
    client = browser()
    response = client.get("/test-errors/405/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 405 and response["Allow"] == "POST"
    response = client.get("/test-errors/429/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429 and response["Retry-After"] == "600"
    html = page_text(response)
    assert "which is the limit." in html and "about 10 minutes" in html
    response = client.get("/test-errors/429-bare/", HTTP_ACCEPT_LANGUAGE="bg")
    assert response["Retry-After"] == "120" and "около 2 минути" in page_text(response)


def test_a_bare_405_asked_for_as_json_stays_bare():
    client = Client(HTTP_ACCEPT="application/json")
    response = client.get("/test-errors/405/")
    assert response.status_code == 405 and response.content == b""


def test_csrf_failure_page(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.teacher_a)
    for language, text in (("en", "The form has expired"), ("bg", "Формулярът е изтекъл")):
        response = client.post("/i18n/setlang/", {"language": "en"}, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 403
        html = page_text(response)
        assert text in html and f'<html lang="{language}">' in html
        assert 'class="site-header"' in html


def test_the_500_page_needs_no_database(monkeypatch):
    """Drawn without context processors: a broken database cannot break it."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(*args, **kwargs):
        raise AssertionError("the 500 page touched the database")

    client = browser()
    client.get("/")  # a session cookie, as a real browser would have
    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = client.get("/test-errors/500/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 500
    assert "Something went wrong on our side" in page_text(response)


def test_logging_out_says_so(cast):
    client = browser()
    client.force_login(cast.teacher_a)
    response = client.post("/accounts/logout/", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "You have logged out." in page_text(response)


# --- logging -----------------------------------------------------------------------------


def _request_records(caplog):
    return [r for r in caplog.records if r.name == "django.request"]


@pytest.mark.parametrize(
    "url", ["/test-errors/403/", "/no-such-page/", "/test-errors/405/", "/test-errors/429/"]
)
def test_expected_refusals_are_not_logged_as_errors(url, caplog):
    with caplog.at_level(logging.INFO):
        browser().get(url)
    records = _request_records(caplog)
    assert records, "the refusal is still logged"
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_consoles_403_is_not_an_error(cast, caplog):
    client = browser()
    client.force_login(cast.teacher_a)
    with caplog.at_level(logging.INFO):
        assert client.get("/console/").status_code == 403
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_500_is_logged_as_an_error_with_its_traceback(caplog):
    with caplog.at_level(logging.INFO):
        browser().get("/test-errors/500/")
    errors = [r for r in _request_records(caplog) if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
