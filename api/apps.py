from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class APIConfig(AppConfig):
    name = "api"
    verbose_name = _("API")

    def ready(self):
        # Imported here: models and signals are ready only once every app is loaded.
        from api.webhooks import write_deliveries
        from tickets.signals import ticket_changing

        ticket_changing.connect(write_deliveries, dispatch_uid="api.webhooks")
        # The OpenAPI description of the token header (drf-spectacular extension).
        import api.schema  # noqa: F401
