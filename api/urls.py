"""URLs of the REST API, mounted at /api/."""

from rest_framework.routers import SimpleRouter

from api import views as api

app_name = "api"

router = SimpleRouter()
router.register("tickets", api.TicketViewSet, basename="ticket")

urlpatterns = router.urls
