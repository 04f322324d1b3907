from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class APIConfig(AppConfig):
    name = "api"
    verbose_name = _("API")

    def ready(self):
        # Imported here: models and signals are ready only once every app is loaded.
        from api.models import WebhookSubscription
        from api.webhooks import forget_subscriptions, write_deliveries
        from tickets.signals import ticket_changing  # (same reason)

        ticket_changing.connect(write_deliveries, dispatch_uid="api.webhooks")
        for signal in (post_save, post_delete):
            signal.connect(
                forget_subscriptions, sender=WebhookSubscription, dispatch_uid="api.webhooks.any"
            )
        # The OpenAPI description of the token header (drf-spectacular extension).
        import api.schema  # noqa: F401
