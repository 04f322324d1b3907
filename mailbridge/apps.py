from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailbridgeConfig(AppConfig):
    name = "mailbridge"
    verbose_name = _("E-mail")
