from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from helpdesk import error_pages, views
from kb.sitemaps import sitemaps as kb_sitemaps

admin.site.site_header = "НЕИСПУО — поддръжка"
admin.site.site_title = "НЕИСПУО — поддръжка"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("health/live", views.health_live, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("accounts.urls")),
    path("oidc/", include("accounts.oidc_urls")),  # 404 unless settings.OIDC_ENABLED
    path("portal/", include("portal.urls")),
    path("console/", include("console.urls")),
    path("api/", include("api.urls")),
    path("kb/", include("kb.urls")),
    path("sitemap.xml", sitemap, {"sitemaps": kb_sitemaps}, name="sitemap"),
    path("admin/", admin.site.urls),
]

# Error pages in the site's layout and the reader's language (helpdesk/error_pages.py).
handler400 = error_pages.bad_request
handler403 = error_pages.permission_denied
handler404 = error_pages.page_not_found
handler500 = error_pages.server_error
