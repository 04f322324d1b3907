from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Requests")

    def ready(self):
        # Imported here: the models must be loaded before the search sync is connected.
        from tickets import search_sync

        search_sync.connect()
