"""URLs of the agent console, mounted at /console/."""

from django.urls import path, re_path

import helpdesk.bounds  # noqa: F401  registers the <id:...> path converter
from console import agent_views, people, tags_fields, views, waves

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
    re_path(rf"^tickets/{REF}/people/add/$", people.watcher_add, name="watcher_add"),
    re_path(
        rf"^tickets/{REF}/people/(?P<pk>\d{{1,18}})/remove/$",
        people.watcher_remove,
        name="watcher_remove",
    ),
    path("new/", people.new_request, name="new_request"),
    path("people/search/", people.person_search, name="person_search"),
    ticket_action("tags", tags_fields.tags_view),
    ticket_action("fields", tags_fields.fields_view),
    path("tags/suggest/", tags_fields.tag_suggestions, name="tag_suggestions"),
    ticket_action("macro", agent_views.macro_apply),
    ticket_action("mentions", agent_views.mention_candidates),
    path("me/replies/", agent_views.my_replies, name="my_replies"),
    path("me/replies/<id:pk>/", agent_views.my_reply_edit, name="my_reply_edit"),
    path("me/replies/<id:pk>/delete/", agent_views.my_reply_delete, name="my_reply_delete"),
    path("me/macros/", agent_views.my_macro_add, name="my_macro_add"),
    path("me/macros/<id:pk>/delete/", agent_views.my_macro_delete, name="my_macro_delete"),
    path("me/settings/", agent_views.my_settings, name="my_settings"),
    path("notifications/", agent_views.notification_list, name="notifications"),
    path("notifications/read/", agent_views.notification_read, name="notification_read"),
    path("notifications/count/", agent_views.notification_count, name="notification_count"),
    ticket_action("similar", waves.similar_card),
    path("surges/", waves.surge_box, name="surges"),
    path("surges/<id:pk>/dismiss/", waves.surge_dismiss, name="surge_dismiss"),
    path("surges/<id:pk>/incident/", waves.surge_incident, name="surge_incident"),
    path("attachments/<id:pk>/", views.attachment, name="attachment"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("handoff/", views.handoff, name="handoff"),
    path("reports/<slug:name>.csv", views.report_csv, name="report"),
    path("reports/<slug:name>.xlsx", views.report_xlsx, name="report_xlsx"),
    path("reports/subscriptions/", views.report_subscriptions, name="report_subscriptions"),
    path(
        "reports/subscriptions/<id:pk>/delete/",
        views.report_unsubscribe,
        name="report_unsubscribe",
    ),
]
