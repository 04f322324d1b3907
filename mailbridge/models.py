"""E-mail in and out: outbound mail records (inbound models follow)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboundMail(models.Model):
    """One e-mail the helpdesk sends, recorded before it is sent.

    The unique key makes a retried celery task send at most once, and the
    Message-ID is fixed at the first attempt so that every retry is the same
    message for threading.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SUPPRESSED = "suppressed", _("not sent")

    key = models.CharField(max_length=200, unique=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="outbound_mail", null=True
    )
    kind = models.CharField(_("kind"), max_length=30)
    recipients = models.JSONField(_("recipients"), default=list)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255)
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mail")

    def __str__(self):
        return f"{self.kind} {self.subject}"
