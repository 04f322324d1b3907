"""Views the HTTP bridge tests call (tests/helpdesk/test_http_bridge.py)."""

import threading

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

# The thread each view ran in, for the test to compare with request_finished's.
seen_threads: list[int] = []


@csrf_exempt
def echo(request, word=""):
    seen_threads.append(threading.get_ident())
    return JsonResponse(
        {
            "method": request.method,
            "path": request.path,
            "word": word,
            "query": request.GET.get("q", ""),
            "body_length": len(request.body),
            "cookie": request.COOKIES.get("a", "") + "|" + request.COOKIES.get("b", ""),
            "accept": request.headers.get("Accept", ""),
            "remote": request.META.get("REMOTE_ADDR", ""),
            "secure": request.is_secure(),
        }
    )


def stream(request):
    seen_threads.append(threading.get_ident())
    return StreamingHttpResponse(
        (f"part {i};".encode() for i in range(3)), content_type="text/plain"
    )


def broken(request):
    raise RuntimeError("a view that fails")


def plain(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("echo/", echo),
    path("echo/<str:word>/", echo),
    path("stream/", stream),
    path("broken/", broken),
    path("plain/", plain),
]
