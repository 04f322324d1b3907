"""URLs of the REST API: version 1 at /api/v1/, and the first API's /api/tickets/ kept working."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from api import pages
from api import views as api

app_name = "api"

v1 = SimpleRouter()
v1.register("tickets", api.TicketViewSet, basename="ticket")
v1.register("attachments", api.AttachmentViewSet, basename="attachment")
v1.register("institutions", api.InstitutionViewSet, basename="institution")
v1.register("regions", api.RegionViewSet, basename="region")
v1.register("competences", api.CompetenceViewSet, basename="competence")
v1.register("kb/articles", api.ArticleViewSet, basename="article")
v1.register("announcements", api.AnnouncementViewSet, basename="announcement")

v1_patterns = [
    *v1.urls,
    path("me/", api.ProfileView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(urlconf=None), name="schema"),
    path("docs/", pages.ApiDocsView.as_view(url_name="api:v1:schema"), name="docs"),
    path("tokens/", pages.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", pages.revoke_token, name="token_revoke"),
    # Anything else under v1 answers in the API's error shape, not with an HTML page.
    re_path(r"^[\s\S]*$", api.not_found),
]

legacy = SimpleRouter()
legacy.register("tickets", api.LegacyTicketViewSet, basename="ticket")

urlpatterns = [
    path("v1/", include((v1_patterns, "v1"))),
    *legacy.urls,
]
