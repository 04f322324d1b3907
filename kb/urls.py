"""URLs of the knowledge base, mounted at /kb/."""

from django.urls import path, register_converter

import helpdesk.bounds  # noqa: F401  registers the <id:...> path converter
from kb import views


class LanguageConverter:
    regex = "bg|en"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(LanguageConverter, "kblang")

app_name = "kb"

urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("suggest/", views.suggest, name="suggest"),
    path("c/<slug:slug>/", views.category_detail, name="category"),
    path("files/<id:pk>/<str:name>", views.attachment_download, name="attachment"),
    path("agent/search/", views.agent_search, name="agent_search"),
    path(
        "agent/draft-from-message/<id:message_id>/",
        views.draft_from_message,
        name="draft_from_message",
    ),
    path("report/", views.report, name="report"),
    path("revisions/<id:pk>/", views.revision_detail, name="revision"),
    path("revisions/<id:pk>/restore/", views.revision_restore, name="revision_restore"),
    path("announcements/<id:pk>/", views.announcement_detail, name="announcement"),
    path(
        "announcements/<id:pk>/dismiss/",
        views.announcement_dismiss,
        name="announcement_dismiss",
    ),
    path("<kblang:lang>/<slug:slug>/", views.article_detail, name="article"),
    path("<kblang:lang>/<slug:slug>/feedback/", views.article_feedback, name="article_feedback"),
    path("<kblang:lang>/<slug:slug>/revisions/", views.revision_list, name="revisions"),
]
