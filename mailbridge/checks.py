"""Deployment checks of the mail door (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def sender_authentication(app_configs, **kwargs):
    """A production helpdesk must not take a From address at its word."""
    errors = []
    rules = settings.HELPDESK
    if rules["MAIL_SENDER_AUTH"] == "off":
        errors.append(
            checks.Error(
                "HELPDESK_MAIL_SENDER_AUTH=off trusts every From address: anyone can write "
                "as an expert.",
                hint="Set it to required and name your mail server in HELPDESK_MAIL_AUTHSERV_IDS "
                "(docs/mailboxes.md).",
                id="mailbridge.E001",
            )
        )
    elif not rules["MAIL_AUTHSERV_IDS"]:
        errors.append(
            checks.Warning(
                "HELPDESK_MAIL_AUTHSERV_IDS is empty: no sender is proven, so staff replies by "
                "mail are all held for review and requesters' replies are kept by address only.",
                hint="Name the authserv-id your receiving mail server writes into "
                "Authentication-Results (docs/mailboxes.md).",
                id="mailbridge.W001",
            )
        )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def demo_mode(app_configs, **kwargs):
    """The demo writes mail to files and may run on a public key: never in production."""
    if not settings.DEMO_MODE:
        return []
    return [
        checks.Error(
            "HELPDESK_DEMO=true in a deployment: demo mode may use the public development "
            "secret key and writes outgoing mail to files instead of sending it.",
            hint="Unset HELPDESK_DEMO; set SECRET_KEY and EMAIL_* (docs/configuration.md).",
            id="mailbridge.E002",
        )
    ]
