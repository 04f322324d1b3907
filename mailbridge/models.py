"""E-mail in and out: mailboxes, every received message, outgoing mail records."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Mailbox(models.Model):
    """An IMAP mailbox the helpdesk reads, and the address it serves.

    The poller takes a lease on the row (locked_by / locked_until) so that two
    pollers never work one mailbox at once; an expired lease, or one held by a
    dead process on the same host, is taken over.
    """

    class Security(models.TextChoices):
        SSL = "ssl", _("TLS from the start (IMAPS, usually port 993)")
        STARTTLS = "starttls", _("STARTTLS (usually port 143)")
        NONE = "none", _("none (only for a server on this machine)")

    name = models.SlugField(_("name"), max_length=60, unique=True)
    address = models.EmailField(
        _("address served"), help_text=_("The e-mail address people write to.")
    )
    host = models.CharField(_("IMAP server"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993)
    security = models.CharField(
        _("connection security"), max_length=10, choices=Security.choices, default=Security.SSL
    )
    ca_file = models.CharField(
        _("CA certificate file"),
        max_length=500,
        blank=True,
        help_text=_(
            "Only for a server with its own certificate authority; empty trusts the system."
        ),
    )
    username = models.CharField(_("user name"), max_length=255)
    password = models.CharField(_("password"), max_length=255, blank=True)
    password_file = models.CharField(
        _("password file"),
        max_length=500,
        blank=True,
        help_text=_("Path of a file that holds the password; read at every connection."),
    )
    inbox_folder = models.CharField(_("inbox folder"), max_length=200, default="INBOX")
    processed_folder = models.CharField(_("processed folder"), max_length=200, default="Processed")
    failed_folder = models.CharField(_("failed folder"), max_length=200, default="Failed")
    use_idle = models.BooleanField(
        _("wait with IDLE"),
        default=True,
        help_text=_("Let the server announce new mail at once, where it can."),
    )
    poll_seconds = models.PositiveIntegerField(
        _("poll interval (seconds)"),
        default=60,
        help_text=_("How often to look for mail when the server offers no IDLE."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    last_poll_at = models.DateTimeField(_("last poll"), null=True, blank=True)
    # The end of the last pass that read the inbox without an error (a pass
    # skipped because another poller holds the mailbox does not count); the
    # readiness check (mailbridge/health.py) reports its age.
    last_success_at = models.DateTimeField(_("last successful poll"), null=True, blank=True)
    last_state = models.CharField(_("last result"), max_length=20, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    locked_by = models.CharField(max_length=200, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self):
        return f"{self.name} <{self.address}>"

    def clean(self):
        if not self.password and not self.password_file:
            raise ValidationError(_("Give a password or a password file."))
        folders = {self.inbox_folder, self.processed_folder, self.failed_folder}
        if len(folders) != 3:
            raise ValidationError(_("The inbox, processed and failed folders must differ."))

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # Imported here: ingest imports these models.
        from mailbridge.ingest import clear_caches

        # The set of our own addresses (mail from them is a loop) changed.
        clear_caches()

    def get_password(self) -> str:
        """Return the password, from the file when one is named (read now, not cached)."""
        if self.password_file:
            return Path(self.password_file).read_text(encoding="utf-8").strip("\r\n")
        return self.password


class InboundMessage(models.Model):
    """One received e-mail, stored before anything else happens to it.

    The unique keys make a second pass over the same message a no-op: by
    (mailbox, UIDVALIDITY, UID) for the IMAP door and by message_key (the
    Message-ID, or a digest of the raw bytes) whichever door it came in by.
    The raw bytes stay in the row so that a quarantined message can be run
    again from the admin.
    """

    class State(models.TextChoices):
        RECEIVED = "received", _("received, not yet processed")
        PROCESSED = "processed", _("processed")
        IGNORED = "ignored", _("ignored")
        QUARANTINED = "quarantined", _("quarantined")
        DUPLICATE = "duplicate", _("duplicate")

    class Outcome(models.TextChoices):
        CREATED = "created", _("new request")
        FOLLOWUP = "followup", _("added to a request")
        IGNORED = "ignored", _("ignored")
        QUARANTINED = "quarantined", _("quarantined")
        DUPLICATE = "duplicate", _("duplicate")
        HELD = "held", _("held for review")

    mailbox = models.ForeignKey(
        Mailbox,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("mailbox"),
    )
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    uid = models.BigIntegerField(null=True, blank=True)
    message_key = models.CharField(max_length=255, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    raw = models.BinaryField(_("raw message"))
    raw_size = models.PositiveIntegerField(_("size"), default=0)
    raw_digest = models.CharField(max_length=64, blank=True)
    sender = models.CharField(_("sender"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.RECEIVED
    )
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_mail",
        verbose_name=_("request"),
    )
    reason = models.TextField(_("reason"), blank=True)
    # What the receiving server's Authentication-Results said of the From
    # address ("dkim=pass for school.bg by mx.mon.bg", or why it is not proven).
    sender_proof = models.CharField(_("sender proof"), max_length=255, blank=True)
    # An administrator who looked at a held message and vouched for its sender.
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("released by"),
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # The conversation the message belongs to (its thread's first stored
    # message, or the root its References name), worked out when it is
    # stored; rows of one conversation, and rows of one sender, are
    # processed one after another in id order (mailbridge/queue.py).
    conversation = models.CharField(max_length=255, blank=True)
    # A worker's claim on a received row while it processes it; a claim whose
    # time is up (or whose process on this host has ended) is taken over.
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("received"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "uidvalidity", "uid"], name="one_row_per_imap_uid"
            )
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="inbound_state"),
            models.Index(fields=["sender", "created_at"], name="inbound_sender"),
            # The work queue: only the rows still to process, which stay few,
            # in claiming order and by the two keys that hold a row back.
            models.Index(fields=["id"], name="inbound_todo", condition=models.Q(state="received")),
            models.Index(
                fields=["conversation", "id"],
                name="inbound_todo_conversation",
                condition=models.Q(state="received"),
            ),
            models.Index(
                fields=["sender", "id"],
                name="inbound_todo_sender",
                condition=models.Q(state="received"),
            ),
        ]
        verbose_name = _("received e-mail")
        verbose_name_plural = _("received e-mail")

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.sender} {self.subject}"


class QuarantinedMessage(InboundMessage):
    """The admin's quarantine list: received e-mail that could not be processed."""

    class Meta:
        proxy = True
        verbose_name = _("quarantined e-mail")
        verbose_name_plural = _("quarantine")


class UndeliverableAddress(models.Model):
    """An address our mail bounced from; notifications skip it until it writes again."""

    address = models.CharField(_("address"), max_length=254, unique=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    bounce_count = models.PositiveIntegerField(_("bounces"), default=1)
    last_bounce_at = models.DateTimeField(_("last bounce"), default=timezone.now)

    class Meta:
        ordering = ["address"]
        verbose_name = _("undeliverable address")
        verbose_name_plural = _("undeliverable addresses")

    def __str__(self):
        return self.address
