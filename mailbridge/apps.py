from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailbridgeConfig(AppConfig):
    name = "mailbridge"
    verbose_name = _("E-mail")

    def ready(self):
        # Imported here: models and signals are ready only once every app is loaded.
        from mailbridge import checks  # noqa: F401  (registers the deploy checks)
        from mailbridge.tasks import forget_person, schedule
        from tickets.signals import outbox_written, person_anonymised

        outbox_written.connect(schedule, dispatch_uid="mailbridge.deliver_outbox")
        person_anonymised.connect(forget_person, dispatch_uid="mailbridge.forget_person")
