from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Console")

    def ready(self):
        # Imported here: models and signals are ready only once every app is loaded.
        from console.live import on_notification_created, on_surge_alerted, on_ticket_changed
        from tickets.signals import notification_created, surge_alerted, ticket_changed

        ticket_changed.connect(on_ticket_changed, dispatch_uid="console.live")
        # The agents of the queue pages' drop-downs are cached (console.filters._all_agents).
        from django.db.models.signals import post_delete, post_save

        # Imported here: models are ready only once ready() runs.
        from accounts.models import AgentProfile, User
        from console.filters import forget_agents

        for model in (AgentProfile, User):
            post_save.connect(forget_agents, sender=model, dispatch_uid=f"console.agents.{model}")
            post_delete.connect(forget_agents, sender=model, dispatch_uid=f"console.agents-{model}")
        notification_created.connect(on_notification_created, dispatch_uid="console.notify")
        surge_alerted.connect(on_surge_alerted, dispatch_uid="console.live.surge")
