from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = _("Requests")

    def ready(self):
        # Imported here: models are ready only once every app is loaded.
        from tickets import sla
        from tickets.models import CalendarException, SLAPolicy, WorkingHours

        def forget(sender, **kwargs):
            sla.clear_caches()  # this process at once; others within a minute

        for model in (SLAPolicy, WorkingHours, CalendarException):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget, sender=model, weak=False, dispatch_uid=f"sla.{model.__name__}"
                )
        # The directory routing reads mail senders' institutions from (tickets/assignment.py).
        from accounts.models import Institution, InstitutionDomain
        from tickets import assignment

        for model in (Institution, InstitutionDomain):
            for signal in (post_save, post_delete):
                signal.connect(
                    assignment.forget_directory,
                    sender=model,
                    weak=False,
                    dispatch_uid=f"assignment.directory.{model.__name__}",
                )
        # Imported here: the models must be loaded before the search sync is connected.
        from tickets import search_sync

        search_sync.connect()
        # The dashboard's counters, kept in step with every ticket change.
        from tickets import counters

        counters.connect()
