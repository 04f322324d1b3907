from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from helpdesk import views

admin.site.site_header = "НЕИСПУО — поддръжка"
admin.site.site_title = "НЕИСПУО — поддръжка"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]
