"""URLs of the agent console, mounted at /console/."""

from django.urls import path, re_path

import helpdesk.bounds  # noqa: F401  registers the <id:...> path converter
from console import views, waves

app_name = "console"

REF = r"(?P<reference>\d{2}-\d{6,})"


def ticket_action(action: str, view):
    return re_path(rf"^tickets/{REF}/{action}/$", view, name=action.replace("-", "_"))


urlpatterns = [
    path("", views.queue, name="queue"),
    path("queue/<slug:key>/", views.queue, name="queue_key"),
    path("rows/<id:pk>/", views.row, name="row"),
    path("counts/", views.counts, name="counts"),
    path("bulk/", views.bulk, name="bulk"),
    path("filters/save/", views.saved_filter_save, name="filter_save"),
    path("filters/<id:pk>/", views.saved_filter_open, name="filter_open"),
    path("filters/<id:pk>/delete/", views.saved_filter_delete, name="filter_delete"),
    re_path(rf"^tickets/{REF}/$", views.ticket_page, name="ticket"),
    ticket_action("messages", views.ticket_messages),
    ticket_action("reply", views.reply),
    ticket_action("status", views.status_view),
    ticket_action("priority", views.priority_view),
    ticket_action("competence", views.competence_view),
    ticket_action("assign", views.assign_view),
    ticket_action("take", views.take_view),
    ticket_action("release", views.release_view),
    ticket_action("escalate", views.escalate_view),
    ticket_action("link", views.link_view),
    ticket_action("unlink", views.unlink_view),
    ticket_action("merge", views.merge_view),
    ticket_action("incident", views.incident_view),
    ticket_action("incident-link", views.incident_link_view),
    ticket_action("incident-add", views.incident_add_view),
    ticket_action("incident-unlink", views.incident_unlink_view),
    ticket_action("similar", waves.similar_card),
    path("surges/", waves.surge_box, name="surges"),
    path("surges/<id:pk>/dismiss/", waves.surge_dismiss, name="surge_dismiss"),
    path("surges/<id:pk>/incident/", waves.surge_incident, name="surge_incident"),
    path("attachments/<id:pk>/", views.attachment, name="attachment"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("handoff/", views.handoff, name="handoff"),
    path("reports/<slug:name>.csv", views.report_csv, name="report"),
]
