"""What the API keeps: tokens, service accounts, idempotency keys, webhooks and their outbox.

Tokens are stored as the SHA-256 of a random secret; the secret is shown
once, when the token is made. A service account is an integration an
administrator creates: it acts through a user of its own whose rights come
from the institution (an ICT lead's membership) or the region (a regional
supervisor's profile) it is bound to, so every read and write goes through
the same domain rules as a person's. Webhook deliveries are rows written in
the transaction of the change that causes them (api/webhooks.py), sent by
celery afterwards.
"""

import hashlib
import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "hd_"


class Scope(models.TextChoices):
    READ = "read", _("read")
    FILE = "file", _("file requests")
    REPLY = "reply", _("reply and upload files")
    ACT = "act", _("act on requests (take, assign, status …)")


ALL_SCOPES = tuple(Scope.values)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def default_scopes() -> list[str]:
    return list(ALL_SCOPES)


class ServiceAccount(models.Model):
    """An integration (an e-diary vendor, a regional office's tool) with its own tokens."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="service_account",
        editable=False,
        verbose_name=_("acts as"),
    )
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("institution"),
        help_text=_("Sees and files the institution's requests, as its ICT lead would."),
    )
    region = models.ForeignKey(
        "accounts.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
        help_text=_("Sees and acts on the region's requests, as its supervisor would."),
    )
    scopes = models.JSONField(_("scopes"), default=default_scopes)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Unticking stops every token of it at once.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("service account")
        verbose_name_plural = _("service accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(institution__isnull=True, region__isnull=False)
                | Q(institution__isnull=False, region__isnull=True),
                name="service_account_one_scope",
            )
        ]

    def __str__(self):
        return self.name

    def clean(self):
        if bool(self.institution_id) == bool(self.region_id):
            raise ValidationError(_("Bind the account to an institution or to a region (one)."))
        unknown = set(self.scopes or []) - set(ALL_SCOPES)
        if unknown or not self.scopes:
            raise ValidationError({"scopes": _("Choose at least one known scope.")})


class ApiToken(models.Model):
    """A bearer token of a person or of a service account; only its hash is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("person"),
    )
    service_account = models.ForeignKey(
        ServiceAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tokens",
        verbose_name=_("service account"),
    )
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(_("starts with"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(_("scopes"), default=default_scopes)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, user, name: str, scopes=None, expires_at=None, service_account=None):
        """Create a token; return (token, secret). The secret is never stored."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            service_account=service_account,
            name=name,
            prefix=secret[:10],
            key_hash=hash_secret(secret),
            scopes=list(scopes) if scopes else list(ALL_SCOPES),
            expires_at=expires_at,
        )
        return token, secret

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class IdempotencyKey(models.Model):
    """The answer to a POST sent with an Idempotency-Key, replayed when the POST is retried."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_once")]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")


class WebhookEvent(models.TextChoices):
    CREATED = "ticket.created", _("request created")
    UPDATED = "ticket.updated", _("request updated")
    RESOLVED = "ticket.resolved", _("request resolved")
    MESSAGE = "message.added", _("message added")


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    """A URL that hears about the requests of a region or an institution (or of all)."""

    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(
        _("signing secret"),
        max_length=100,
        default=new_webhook_secret,
        help_text=_("Give it to the receiver; it checks X-Helpdesk-Signature with it."),
    )
    events = models.JSONField(_("events"), default=list)
    region = models.ForeignKey(
        "accounts.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("institution"),
        help_text=_("Leave region and institution empty to hear about every request."),
    )
    contact_email = models.EmailField(
        _("contact e-mail"), blank=True, help_text=_("Told when the subscription is paused.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    paused_at = models.DateTimeField(_("paused"), null=True, blank=True)
    paused_reason = models.CharField(_("why paused"), max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self):
        return self.name

    def clean(self):
        if self.region_id and self.institution_id:
            raise ValidationError(_("Choose a region or an institution, not both."))
        unknown = set(self.events or []) - set(WebhookEvent.values)
        if unknown or not self.events:
            raise ValidationError({"events": _("Choose at least one known event.")})


class WebhookDelivery(models.Model):
    """One event owed to one subscription: written with the change, sent by celery."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(_("event"), max_length=40, choices=WebhookEvent.choices)
    ticket_reference = models.CharField(_("request"), max_length=16, blank=True)
    body = models.TextField(_("body (JSON)"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    give_up_at = models.DateTimeField(_("given up at"))
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="api_webhook_due")]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self):
        return f"{self.event} {self.ticket_reference} → {self.subscription}"
