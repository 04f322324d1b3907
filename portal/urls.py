"""URLs of the institution portal, mounted at /portal/."""

from django.urls import path, re_path

import helpdesk.bounds  # noqa: F401  registers the <id:...> path converter
from portal import people, similar, views

app_name = "portal"

# A reference is YY-NNNNNN (six or more digits); anything else is a 404 at once.
REF = r"(?P<reference>\d{2}-\d{6,})"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_new, name="new"),
    path("suggest/", views.suggest, name="suggest"),
    path("similar/", similar.similar, name="similar"),
    path("similar/follow/", similar.follow_similar, name="follow_similar"),
    re_path(rf"^requests/{REF}/$", views.ticket_detail, name="ticket"),
    re_path(rf"^requests/{REF}/reply/$", views.ticket_reply, name="reply"),
    re_path(rf"^requests/{REF}/solve/$", views.ticket_solve, name="solve"),
    re_path(rf"^requests/{REF}/reopen/$", views.ticket_reopen, name="reopen"),
    re_path(rf"^requests/{REF}/rate/$", views.ticket_rate, name="rate"),
    re_path(rf"^requests/{REF}/people/add/$", people.watcher_add, name="watcher_add"),
    re_path(
        rf"^requests/{REF}/people/(?P<pk>\d{{1,18}})/remove/$",
        people.watcher_remove,
        name="watcher_remove",
    ),
    path("rate/<str:token>/", views.rate_from_link, name="rate_link"),
    path("attachments/<id:pk>/", views.attachment_download, name="attachment"),
    path("delegations/", views.delegation_list, name="delegations"),
    path("delegations/grant/", views.delegation_grant, name="delegation_grant"),
    path("delegations/<id:pk>/revoke/", views.delegation_revoke, name="delegation_revoke"),
]
