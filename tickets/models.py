"""The ticket domain: competences, tickets, messages, attachments, history."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.querysets import AttachmentQuerySet, MessageQuerySet, TicketQuerySet


class Tier(models.TextChoices):
    REGIONAL = "regional", _("regional office (РУО)")
    CENTRAL = "central", _("central support")


class Competence(models.Model):
    """An area of questions that a set of experts answers."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (Bulgarian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    hint = models.CharField(_("hint (Bulgarian)"), max_length=255, blank=True)
    hint_en = models.CharField(_("hint (English)"), max_length=255, blank=True)
    keywords = models.TextField(
        _("keywords"),
        blank=True,
        help_text=_("Comma-separated word stems used to guess the area of an e-mail."),
    )
    tier = models.CharField(_("handled by"), max_length=10, choices=Tier.choices)
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("competence")
        verbose_name_plural = _("competences")

    def __str__(self):
        return self.name

    def keyword_list(self) -> tuple[str, ...]:
        return tuple(k.strip().lower() for k in self.keywords.split(",") if k.strip())

    def localized_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def localized_hint(self, language: str) -> str:
        return self.hint_en if language == "en" and self.hint_en else self.hint


class ReferenceCounter(models.Model):
    """The last ticket number issued in a year; references are YY-NNNNNN."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)


class Status(models.TextChoices):
    NEW = "new", _("new")
    OPEN = "open", _("open")
    WAITING = "waiting", _("waiting on requester")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")


OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.WAITING)

# Allowed status changes. Reopening is resolved -> open; closed is final
# (a new message on a closed ticket opens a linked follow-up instead).
TRANSITIONS = {
    Status.NEW: {Status.OPEN, Status.WAITING, Status.RESOLVED, Status.CLOSED},
    Status.OPEN: {Status.WAITING, Status.RESOLVED, Status.CLOSED},
    Status.WAITING: {Status.OPEN, Status.RESOLVED, Status.CLOSED},
    Status.RESOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}


class Priority(models.TextChoices):
    LOW = "low", _("low")
    NORMAL = "normal", _("normal")
    HIGH = "high", _("high")
    URGENT = "urgent", _("urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Channel(models.TextChoices):
    PORTAL = "portal", _("portal")
    EMAIL = "email", _("e-mail")
    API = "api", _("API")
    CONSOLE = "console", _("agent console")
    PHONE = "phone", _("phone")
    IN_PERSON = "in_person", _("in person")
    SYSTEM = "system", _("system")


class Ticket(models.Model):
    """A request for help from an institution or an e-mail sender."""

    reference = models.CharField(_("reference"), max_length=16, unique=True)
    institution = models.ForeignKey(
        "accounts.Institution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("institution"),
    )
    institution_verified = models.BooleanField(
        _("institution confirmed"),
        default=True,
        help_text=_("False when the institution was guessed from an e-mail."),
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("requester"),
    )
    requester_email = models.EmailField(_("requester e-mail"), blank=True)
    requester_name = models.CharField(_("requester name"), max_length=150, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=200)
    competence = models.ForeignKey(
        Competence,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("competence"),
    )
    region = models.ForeignKey(
        "accounts.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("region"),
    )
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, default=Tier.REGIONAL)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        verbose_name=_("assignee"),
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("incident"),
    )
    is_incident = models.BooleanField(_("mass incident"), default=False)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    related = models.ManyToManyField("self", blank=True, verbose_name=_("related requests"))

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("last update"), default=timezone.now)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    # SLA: due times are stored so that the queues can sort and index them.
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(_("SLA paused seconds"), default=0)
    sla_breached = models.BooleanField(_("SLA breached"), default=False)
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    sla_breach_notified_at = models.DateTimeField(null=True, blank=True)

    has_attachments = models.BooleanField(_("has attachments"), default=False)
    message_count = models.PositiveIntegerField(default=0)
    last_message_id = models.BigIntegerField(null=True, blank=True)

    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    satisfaction_comment = models.TextField(_("satisfaction comment"), blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        indexes = [
            # The console's queues: each starts with what the queue filters on
            # and ends with what it sorts by, so a page is an index range scan.
            models.Index(fields=["assignee", "status", "resolution_due"], name="q_mine"),
            models.Index(
                fields=["region", "competence", "status", "resolution_due"], name="q_region"
            ),
            models.Index(fields=["tier", "status", "resolution_due"], name="q_tier"),
            models.Index(fields=["status", "resolution_due"], name="q_due"),
            models.Index(fields=["status", "first_response_due"], name="q_first_due"),
            models.Index(fields=["region", "status", "updated_at"], name="q_region_updated"),
            models.Index(fields=["institution", "updated_at"], name="q_institution"),
            models.Index(fields=["requester", "updated_at"], name="q_requester"),
            # Follow-ups: the same requester's recent tickets (routing).
            models.Index(fields=["requester", "created_at"], name="q_requester_created"),
            models.Index(fields=["updated_at", "id"], name="q_updated"),
            models.Index(fields=["created_at"], name="q_created"),
            models.Index(fields=["requester_email", "created_at"], name="q_req_email"),
            models.Index(
                fields=["status", "updated_at"],
                name="q_open_updated",
                condition=Q(status__in=["new", "open", "waiting"]),
            ),
            # The dashboard (console/dashboard/, tickets/counters.py): what the
            # counters cannot hold because it depends on the clock: tickets whose
            # due time is still ahead, and the age of open tickets created on the
            # days an age bucket starts; then ratings and their comments.
            models.Index(
                fields=["first_response_due"],
                name="dash_first_pending",
                include=["created_at", "region", "competence"],
                condition=Q(first_response_at__isnull=True, merged_into__isnull=True),
            ),
            models.Index(
                fields=["resolution_due"],
                name="dash_res_pending",
                include=["created_at", "region", "competence"],
                condition=Q(resolved_at__isnull=True, merged_into__isnull=True),
            ),
            # status first, though the predicate fixes it: an index led by
            # created_at (in step with the table's physical order) looks so
            # cheap to the planner that it scanned every open request of the
            # country with it to find one region's (33 ms at 1M, 3 ms by a
            # bitmap of the region's and the person's indexes).
            models.Index(
                fields=["status", "created_at"],
                name="dash_open_created",
                include=["region", "competence"],
                condition=Q(status__in=["new", "open", "waiting"]),
            ),
            models.Index(
                fields=["resolved_at"], name="dash_rated", condition=Q(satisfaction__isnull=False)
            ),
            # The national queue counts (console/filters.py): the open requests
            # coming due that the SLA sweep has not yet marked breached.
            models.Index(
                fields=["resolution_due"],
                name="q_due_unmarked",
                condition=Q(status__in=["new", "open"], sla_breached=False),
            ),
            models.Index(
                fields=["first_response_due"],
                name="q_first_unmarked",
                condition=Q(
                    status__in=["new", "open"], sla_breached=False, first_response_at__isnull=True
                ),
            ),
        ]

    def __str__(self):
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("portal:ticket", args=[self.reference])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def requester_display(self) -> str:
        if self.requester_id:
            return str(self.requester)
        return self.requester_name or self.requester_email


class Message(models.Model):
    """One entry in a ticket's conversation: a public reply or an internal note."""

    class Kind(models.TextChoices):
        PUBLIC = "public", _("reply")
        INTERNAL = "internal", _("internal note")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", verbose_name=_("request")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PUBLIC)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    sender_email = models.EmailField(_("sender e-mail"), blank=True)
    sender_name = models.CharField(_("sender name"), max_length=150, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    body_text = models.TextField(_("text"))
    body_html = models.TextField(_("HTML (sanitised)"), blank=True)
    quoted_text = models.TextField(_("quoted earlier text"), blank=True)
    email_message_id = models.CharField(_("e-mail Message-ID"), max_length=255, blank=True)
    is_auto_reply = models.BooleanField(_("automatic reply"), default=False)
    from_staff = models.BooleanField(_("from support staff"), default=False)
    # Time the agent spent on this reply or note (optional, 0–1440 minutes).
    minutes_spent = models.PositiveSmallIntegerField(_("minutes spent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "created_at"]),
            models.Index(fields=["email_message_id"]),
            # The dashboard's time spent: the messages that recorded minutes.
            models.Index(
                fields=["created_at"],
                name="dash_minutes",
                condition=Q(minutes_spent__isnull=False),
            ),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self):
        return f"{self.ticket.reference} #{self.pk}"

    @property
    def author_display(self) -> str:
        if self.author_id:
            return str(self.author)
        return self.sender_name or self.sender_email


class Watcher(models.Model):
    """Someone besides the requester who follows a request and gets its public replies.

    Either a person with an account (a colleague who chose "follow that one
    instead", an agent watching a request) or a bare e-mail address copied on
    the conversation (CC). One row per person or address per request.
    """

    class Source(models.TextChoices):
        CONSOLE = "console", _("added in the console")
        PORTAL = "portal", _("added in the portal")
        MAIL = "mail", _("copied on an e-mail")
        FOLLOW = "follow", _("followed instead of filing")
        API = "api", _("added through the API")
        MERGE = "merge", _("from a merged request")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="watchers", verbose_name=_("request")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="watching",
        verbose_name=_("person"),
    )
    email = models.EmailField(_("e-mail"), blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )
    created_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("watcher")
        verbose_name_plural = _("watchers")
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "user"],
                condition=Q(user__isnull=False),
                name="watcher_one_per_person",
            ),
            models.UniqueConstraint(
                fields=["ticket", "email"],
                condition=Q(user__isnull=True),
                name="watcher_one_per_address",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(email=""),
                name="watcher_person_or_address",
            ),
        ]
        indexes = [models.Index(fields=["user", "ticket"], name="watcher_by_user")]

    def __str__(self):
        return f"{self.ticket_id} {self.address}"

    @property
    def address(self) -> str:
        return self.user.email if self.user_id else self.email


class MailThreadKey(models.Model):
    """A Message-ID the helpdesk sent or received, for threading e-mail replies."""

    class Direction(models.TextChoices):
        IN = "in", _("received")
        OUT = "out", _("sent")

    mail_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="thread_keys")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    recipient = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("e-mail thread key")
        verbose_name_plural = _("e-mail thread keys")

    @classmethod
    def remember(cls, ticket, message, mail_id: str, direction: str, recipient: str = "") -> None:
        """Thread replies to `mail_id` to `ticket`; the first ticket to claim a Message-ID keeps it.

        One statement: a Message-ID already claimed is skipped by the database
        (ON CONFLICT DO NOTHING), where a savepoint around a plain insert cost
        three round trips on every mail.
        """
        cls.objects.bulk_create(
            [
                cls(
                    mail_id=mail_id[:255],
                    ticket=ticket,
                    message=message,
                    direction=direction,
                    recipient=recipient,
                )
            ],
            ignore_conflicts=True,
        )


def attachment_path(instance, filename):
    # Content-addressed layout under the private uploads folder: the stored
    # name never comes from the user.
    digest = instance.sha256
    return f"attachments/{digest[:2]}/{digest[2:4]}/{digest}"


class Attachment(models.Model):
    """A file on a ticket, checked by content; or the record of a rejected one."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("request")
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("message"),
    )
    file = models.FileField(_("file"), upload_to=attachment_path, blank=True, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    content_type = models.CharField(_("detected type"), max_length=100, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    content_id = models.CharField(max_length=255, blank=True)
    inline = models.BooleanField(default=False)
    rejected_reason = models.CharField(_("rejected because"), max_length=255, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def is_pdf(self) -> bool:
        return self.content_type == "application/pdf"


class TicketEvent(models.Model):
    """One line of a ticket's history: who changed what, from what, to what."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        ROUTED = "routed", _("routed")
        MESSAGE = "message", _("reply")
        NOTE = "note", _("internal note")
        STATUS = "status", _("status changed")
        ASSIGNED = "assigned", _("assigned")
        PRIORITY = "priority", _("priority changed")
        COMPETENCE = "competence", _("competence changed")
        ESCALATED = "escalated", _("tier changed")
        INSTITUTION = "institution", _("institution changed")
        MERGED = "merged", _("merged")
        LINKED = "linked", _("linked")
        ATTACHMENT_REJECTED = "attachment_rejected", _("attachment rejected")
        SLA = "sla", _("SLA")
        RATED = "rated", _("rated")
        MAIL = "mail", _("e-mail")
        WATCHER = "watcher", _("people on the request")
        TAG = "tag", _("tags")
        FIELD = "field", _("field changed")
        MACRO = "macro", _("macro applied")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("request")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    field = models.CharField(_("field"), max_length=40, blank=True)
    old_value = models.CharField(_("from"), max_length=255, blank=True)
    new_value = models.CharField(_("to"), max_length=255, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]
        verbose_name = _("history entry")
        verbose_name_plural = _("history")

    def __str__(self):
        return f"{self.ticket_id} {self.kind} {self.old_value} → {self.new_value}"


class SLAPolicy(models.Model):
    """Response and resolution targets in business minutes, per priority.

    A policy with a competence overrides the general one for that priority.
    """

    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    competence = models.ForeignKey(
        Competence,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        verbose_name=_("competence"),
    )
    first_response_minutes = models.PositiveIntegerField(_("first response (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "competence"], name="one_policy_per_priority_competence"
            ),
            models.UniqueConstraint(
                fields=["priority"],
                condition=Q(competence__isnull=True),
                name="one_general_policy_per_priority",
            ),
        ]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self):
        scope = self.competence or _("all competences")
        return f"{self.get_priority_display()} / {scope}"

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.first_response_minutes is None or self.resolution_minutes is None:
            return  # the missing field reports its own error
        if self.first_response_minutes == 0 or self.resolution_minutes == 0:
            raise ValidationError(_("Targets must be positive."))
        if self.resolution_minutes < self.first_response_minutes:
            raise ValidationError(
                _("The resolution target cannot be shorter than the first response target.")
            )


class WorkingHours(models.Model):
    """Business hours of a region (or the default, without a region)."""

    region = models.OneToOneField(
        "accounts.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="working_hours",
        verbose_name=_("region"),
    )
    weekdays = models.CharField(
        _("working weekdays"),
        max_length=20,
        default="0,1,2,3,4",
        help_text=_("Comma-separated, 0 = Monday … 6 = Sunday."),
    )
    opens_at = models.TimeField(_("opens at"), default=datetime.time(9, 0))
    closes_at = models.TimeField(_("closes at"), default=datetime.time(17, 30))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self):
        return f"{self.region or _('default')}: {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"

    def clean(self):
        from django.core.exceptions import ValidationError

        try:
            days = [int(d) for d in self.weekdays.split(",") if d.strip()]
        except ValueError:
            raise ValidationError({"weekdays": _("Use numbers 0–6 separated by commas.")}) from None
        if not days or any(d < 0 or d > 6 for d in days):
            raise ValidationError({"weekdays": _("Use numbers 0–6 separated by commas.")})
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("Closing must be after opening.")})

    def weekday_set(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.weekdays.split(",") if d.strip())


class CalendarException(models.Model):
    """An extra non-working day (or a working Saturday), nationwide or for a region."""

    class Kind(models.TextChoices):
        CLOSED = "closed", _("non-working day")
        OPEN = "open", _("working day")

    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=6, choices=Kind.choices, default=Kind.CLOSED)
    region = models.ForeignKey(
        "accounts.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_exceptions",
        verbose_name=_("region"),
        help_text=_("Empty for the whole country."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["date", "region"], name="one_exception_per_day_region")
        ]
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")

    def __str__(self):
        return f"{self.date} {self.get_kind_display()}"


class SavedFilter(models.Model):
    """A queue with filters an agent saved under a name, to open in one click."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="saved_filters",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=80)
    queue = models.CharField(_("queue"), max_length=20, default="all")
    query = models.CharField(
        _("filters"), max_length=1000, blank=True, help_text=_("The URL query string.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="one_saved_filter_name")
        ]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")

    def __str__(self):
        return self.name


class CannedResponse(models.Model):
    """A ready answer, shared (for a competence area or everywhere) or an agent's own.

    Placeholders such as {{requester}}, {{reference}}, {{institution}},
    {{agent}} and {{kb:slug}} are filled per ticket (tickets/placeholders.py);
    the older {requester_name} style still works. Without an owner the answer
    is shared; with one, only its owner sees it.
    """

    TITLE_MAX = 120
    BODY_MAX = 5000

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
        verbose_name=_("owner"),
        help_text=_("Empty for an answer shared by everyone."),
    )
    competence = models.ForeignKey(
        Competence,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_responses",
        verbose_name=_("competence"),
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["order", "title"]
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")

    def __str__(self):
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        if len(self.body or "") > self.BODY_MAX:
            raise ValidationError(
                {"body": _("The text is longer than %(n)s characters.") % {"n": self.BODY_MAX}}
            )


class Macro(models.Model):
    """One click on a ticket: a reply or note, and a status, priority, competence, assignee.

    Administrators define shared macros (no owner) in the admin; an agent may
    keep personal ones. Applied by tickets.actions.apply_macro as one change
    with one history line.
    """

    class Assign(models.TextChoices):
        KEEP = "", _("keep the assignee")
        ME = "me", _("assign to the one who applies it")
        QUEUE = "queue", _("return to the queue")

    TITLE_MAX = 120
    BODY_MAX = 5000

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="macros",
        verbose_name=_("owner"),
        help_text=_("Empty for a macro shared by everyone."),
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX)
    body = models.TextField(
        _("text"), blank=True, help_text=_("The reply or note it writes; may be empty.")
    )
    reply_kind = models.CharField(
        _("text is"), max_length=10, choices=Message.Kind.choices, default=Message.Kind.PUBLIC
    )
    status = models.CharField(_("new status"), max_length=10, choices=Status.choices, blank=True)
    priority = models.CharField(
        _("new priority"), max_length=10, choices=Priority.choices, blank=True
    )
    competence = models.ForeignKey(
        Competence,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="macros",
        verbose_name=_("new competence"),
    )
    add_tags = models.CharField(
        _("tags to add"), max_length=400, blank=True, help_text=_("Comma-separated.")
    )
    remove_tags = models.CharField(
        _("tags to remove"), max_length=400, blank=True, help_text=_("Comma-separated.")
    )
    assign = models.CharField(
        _("assignee"), max_length=10, choices=Assign.choices, blank=True, default=Assign.KEEP
    )
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        ordering = ["order", "title"]
        verbose_name = _("macro")
        verbose_name_plural = _("macros")

    def __str__(self):
        return self.title

    def clean(self):
        from django.core.exceptions import ValidationError

        if len(self.body or "") > self.BODY_MAX:
            raise ValidationError(
                {"body": _("The text is longer than %(n)s characters.") % {"n": self.BODY_MAX}}
            )
        if not (
            (self.body or "").strip()
            or self.status
            or self.priority
            or self.competence_id
            or self.assign
            or (self.add_tags or "").strip(" ,")
            or (self.remove_tags or "").strip(" ,")
        ):
            raise ValidationError(_("A macro must change something or write a text."))
        if (
            self.reply_kind == Message.Kind.INTERNAL
            and self.status in (Status.RESOLVED, Status.CLOSED)
            and (self.body or "").strip()
        ):
            raise ValidationError(
                _("Resolve or close with a public reply, not with an internal note.")
            )


class AgentSettings(models.Model):
    """An agent's own settings: e-mail signatures and which notifications to get, and how.

    Kept in the ticket domain (not on accounts.AgentProfile) because the
    notifications it governs are written by the domain's actions.
    """

    SIGNATURE_MAX = 1000

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="agent_settings",
        verbose_name=_("person"),
    )
    signature_bg = models.TextField(_("signature (Bulgarian)"), blank=True)
    signature_en = models.TextField(_("signature (English)"), blank=True)
    assigned_console = models.BooleanField(_("assigned to me: in the console"), default=True)
    assigned_mail = models.BooleanField(_("assigned to me: by e-mail"), default=False)
    reply_console = models.BooleanField(_("reply on my request: in the console"), default=True)
    reply_mail = models.BooleanField(_("reply on my request: by e-mail"), default=True)
    sla_console = models.BooleanField(_("SLA warning: in the console"), default=True)
    sla_mail = models.BooleanField(_("SLA warning: by e-mail"), default=True)
    mention_console = models.BooleanField(_("mention: in the console"), default=True)
    mention_mail = models.BooleanField(_("mention: by e-mail when I am away"), default=True)

    class Meta:
        verbose_name = _("agent settings")
        verbose_name_plural = _("agent settings")

    def __str__(self):
        return str(self.user)

    def wants(self, kind: str, way: str) -> bool:
        """Whether notifications of `kind` should reach the agent `way` ("console" or "mail")."""
        return bool(getattr(self, f"{kind}_{way}"))

    def signature(self, language: str) -> str:
        """The signature in `language`, else the other one."""
        if language == "en":
            return self.signature_en or self.signature_bg
        return self.signature_bg or self.signature_en


class Notification(models.Model):
    """Something an agent should know of, shown in the console's bell and list.

    Written by the domain's actions in the transaction of the change that
    causes it (tickets/notifications.py).
    """

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", _("assigned to me")
        REPLY = "reply", _("reply on my request")
        SLA = "sla", _("SLA warning")
        MENTION = "mention", _("mention")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("request")
    )
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read on"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at", "created_at"], name="notification_inbox")
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self):
        return f"{self.recipient_id} {self.kind} {self.ticket_id}"


class OutboundMail(models.Model):
    """The outbox: one e-mail the helpdesk owes someone, written with the change that causes it.

    Actions write these rows in their own transaction (tickets/outbox.py), so
    a crash or a broker that is down loses nothing; mailbridge/outbound.py
    delivers them. The unique key makes a change mail each person once, and
    the Message-ID is fixed when the row is written, so every retry is the
    same message for threading. A sender claims the row (locked_until) before
    it talks to the SMTP server, so a retry and the sweep never send twice.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SUPPRESSED = "suppressed", _("not sent")

    key = models.CharField(max_length=200, unique=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="outbound_mail", null=True
    )
    ticket_message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, related_name="+", null=True, blank=True
    )
    kind = models.CharField(_("kind"), max_length=30)
    recipients = models.JSONField(_("recipients"), default=list)
    language = models.CharField(_("language"), max_length=8, default="bg")
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255)
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    # A mail not about one ticket (a scheduled report) is written whole:
    # {"subject", "text", "html", "attachments": [{"name", "type", "base64"}]}.
    content = models.JSONField(_("content"), default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "created_at"], name="outbound_state")]
        verbose_name = _("outgoing e-mail")
        verbose_name_plural = _("outgoing e-mail")

    def __str__(self):
        return f"{self.kind} {self.subject}"


class RedactedOriginal(models.Model):
    """The text as written before its personal numbers (ЕГН) were masked.

    Written only when settings.HELPDESK_EGN_KEEP_ORIGINAL is on; kept apart
    from the messages so that nothing but this table (shown to superusers in
    the admin, each reveal recorded in the access audit) holds the numbers.
    """

    class Field(models.TextChoices):
        SUBJECT = "subject", _("subject")
        BODY_TEXT = "body_text", _("text")
        BODY_HTML = "body_html", _("HTML")
        QUOTED_TEXT = "quoted_text", _("quoted earlier text")
        FILE_NAME = "file_name", _("file name")

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="+", verbose_name=_("request")
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("message"),
    )
    field = models.CharField(_("field"), max_length=20, choices=Field.choices)
    original = models.TextField(_("original"))
    masked_count = models.PositiveSmallIntegerField(_("numbers masked"), default=1)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("original with a personal number")
        verbose_name_plural = _("originals with personal numbers")

    def __str__(self):
        return f"{self.ticket_id} {self.field}"


# --- tags --------------------------------------------------------------------------


TAG_MAX = 40
TAGS_PER_TICKET = 20


def tag_key(name: str) -> str:
    """Return the form a tag is matched by: spaces collapsed, lower case."""
    return " ".join(str(name or "").split()).lower()


class Tag(models.Model):
    """A free label agents put on requests ("зрелост-2026", "vendor-x"), matched without case.

    `name` is shown as it was first written; `key` (the name in lower case)
    is what makes two spellings the same tag.
    """

    name = models.CharField(_("name"), max_length=TAG_MAX)
    key = models.CharField(_("key"), max_length=TAG_MAX, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    tickets = models.ManyToManyField(
        Ticket, through="TicketTag", related_name="tags", verbose_name=_("requests")
    )

    class Meta:
        ordering = ["key"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name = " ".join(self.name.split())
        self.key = tag_key(self.name)
        super().save(*args, **kwargs)


class TicketTag(models.Model):
    """One tag on one request: who put it there and when."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "tag"], name="one_tag_per_ticket")]
        # Filtering by tag reads (tag -> tickets); the unique constraint serves the other way.
        indexes = [models.Index(fields=["tag", "ticket"], name="tickettag_by_tag")]
        verbose_name = _("tag on a request")
        verbose_name_plural = _("tags on requests")


# --- fields per competence ------------------------------------------------------------


FIELD_VALUE_MAX = 255


class CompetenceField(models.Model):
    """An extra question a competence asks when a request is filed under it.

    E.g. "document registration number" for diplomas, "e-diary vendor" for
    e-diaries. Values live in TicketFieldValue, one row per request and field
    (tickets/fields.py validates them). A field in use is deactivated rather
    than deleted, so that the answers already given stay readable.
    """

    class Kind(models.TextChoices):
        TEXT = "text", _("text")
        NUMBER = "number", _("number")
        DATE = "date", _("date")
        CHOICE = "choice", _("choice")

    competence = models.ForeignKey(
        Competence,
        on_delete=models.CASCADE,
        related_name="extra_fields",
        verbose_name=_("competence"),
    )
    key = models.SlugField(
        _("key"),
        max_length=40,
        unique=True,
        help_text=_("A short Latin name used in the API and in filter links, e.g. diploma_number."),
    )
    label = models.CharField(_("label (Bulgarian)"), max_length=120)
    label_en = models.CharField(_("label (English)"), max_length=120, blank=True)
    help_text = models.CharField(_("hint (Bulgarian)"), max_length=255, blank=True)
    help_text_en = models.CharField(_("hint (English)"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    choices = models.TextField(
        _("choices"),
        blank=True,
        help_text=_(
            "For a choice: one option per line, in Bulgarian, optionally followed by "
            "“ | ” and the English text."
        ),
    )
    required = models.BooleanField(_("required"), default=False)
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["competence__order", "competence_id", "order", "id"]
        verbose_name = _("competence field")
        verbose_name_plural = _("competence fields")

    def __str__(self):
        return f"{self.competence.name}: {self.label}" if self.competence_id else self.label

    def localized_label(self, language: str) -> str:
        return self.label_en if language == "en" and self.label_en else self.label

    def localized_help(self, language: str) -> str:
        return self.help_text_en if language == "en" and self.help_text_en else self.help_text

    def choice_list(self) -> list[tuple[str, str]]:
        """Return [(stored value (Bulgarian), English text)] of a choice field."""
        out = []
        for line in self.choices.splitlines():
            bg, _sep, en = line.partition("|")
            bg, en = " ".join(bg.split()), " ".join(en.split())
            if bg and bg not in (v for v, _e in out):
                out.append((bg, en or bg))
        return out

    def choice_label(self, value: str, language: str) -> str:
        if language == "en":
            for bg, en in self.choice_list():
                if bg == value:
                    return en
        return value

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.kind == self.Kind.CHOICE:
            options = self.choice_list()
            if not options:
                raise ValidationError({"choices": _("A choice field needs at least one option.")})
            if any(len(v) > FIELD_VALUE_MAX for v, _en in options):
                raise ValidationError(
                    {
                        "choices": _("An option is longer than %(n)s characters.")
                        % {"n": FIELD_VALUE_MAX}
                    }
                )


class TicketFieldValue(models.Model):
    """One answer to a competence field on one request.

    A value table rather than a JSON column on the ticket: each answer is a
    row with a typed copy (number, date) beside its text, so a filter is an
    indexed lookup on (field, value) that reads the same on PostgreSQL and
    SQLite, a field renamed or retired keeps its answers, and the ticket row
    (read by every queue) stays as narrow as it was.
    """

    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="field_values", verbose_name=_("request")
    )
    field = models.ForeignKey(
        CompetenceField, on_delete=models.PROTECT, related_name="values", verbose_name=_("field")
    )
    value = models.CharField(_("value"), max_length=FIELD_VALUE_MAX)
    number = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "field"], name="one_value_per_field")
        ]
        indexes = [models.Index(fields=["field", "value"], name="fieldvalue_by_value")]
        verbose_name = _("field value")
        verbose_name_plural = _("field values")

    def __str__(self):
        return f"{self.field_id}={self.value}"


class ReportSubscription(models.Model):
    """A supervisor's standing order for the figures of their scope by mail.

    Sent by the celery beat task console.tasks.send_scheduled_reports after
    each week (Monday to Sunday) or calendar month ends, through the outbox;
    `last_period` names the period last sent, so a period is mailed once.
    A national supervisor may narrow the report to one region.
    """

    class Period(models.TextChoices):
        WEEKLY = "weekly", _("weekly")
        MONTHLY = "monthly", _("monthly")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
        verbose_name=_("person"),
    )
    period = models.CharField(_("period"), max_length=10, choices=Period.choices)
    region = models.ForeignKey(
        "accounts.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("region"),
    )
    last_period = models.CharField(_("last period sent"), max_length=10, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["user", "period", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "region"],
                condition=Q(region__isnull=False),
                name="report_subscription_region",
            ),
            models.UniqueConstraint(
                fields=["user", "period"],
                condition=Q(region__isnull=True),
                name="report_subscription_scope",
            ),
        ]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")

    def __str__(self):
        return f"{self.user} {self.period}"


class TicketSignature(models.Model):
    """The content stems of a request's subject and first message (tickets/similarity.py).

    Written on filing. Competence, region, institution and creation time are
    copied from the ticket so that the candidate query of "similar requests"
    is one range scan over this table's own indexes.
    """

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, primary_key=True, related_name="signature"
    )
    terms = models.TextField(_("terms"), blank=True)
    competence = models.ForeignKey(
        Competence, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    region = models.ForeignKey(
        "accounts.Region", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    institution = models.ForeignKey(
        "accounts.Institution", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("request signature")
        verbose_name_plural = _("request signatures")
        indexes = [
            models.Index(fields=["competence", "created_at"], name="sig_competence"),
            models.Index(fields=["institution", "created_at"], name="sig_institution"),
            models.Index(fields=["created_at"], name="sig_created"),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.terms[:60]}"


class SurgeAlert(models.Model):
    """A cluster of similar requests from many institutions: a possible mass incident."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DISMISSED = "dismissed", _("dismissed")
        INCIDENT = "incident", _("incident created")

    competence = models.ForeignKey(
        Competence,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("competence"),
    )
    terms = models.TextField(_("terms"))
    label = models.CharField(_("sample subject"), max_length=200)
    members = models.ManyToManyField(Ticket, related_name="surges", verbose_name=_("requests"))
    region_ids = models.JSONField(_("regions"), default=list)
    request_count = models.PositiveIntegerField(_("requests"), default=0)
    institution_count = models.PositiveIntegerField(_("institutions"), default=0)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    first_at = models.DateTimeField(_("first request"))
    last_at = models.DateTimeField(_("latest request"))
    created_at = models.DateTimeField(_("detected"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    incident = models.ForeignKey(
        Ticket,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="surge_alerts",
        verbose_name=_("incident"),
    )
    announcement_url = models.CharField(_("announcement link"), max_length=300, blank=True)

    class Meta:
        ordering = ["-last_at", "-id"]
        verbose_name = _("surge alert")
        verbose_name_plural = _("surge alerts")
        indexes = [models.Index(fields=["state", "last_at"], name="surge_state")]

    def __str__(self):
        return f"{self.label} ({self.request_count})"


class SimilarShown(models.Model):
    """Similar requests the filing form showed, and what the person did: followed or filed."""

    token = models.CharField(max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    institution = models.ForeignKey(
        "accounts.Institution", on_delete=models.CASCADE, related_name="+"
    )
    query = models.CharField(max_length=500, blank=True)
    shown = models.ManyToManyField(Ticket, related_name="+")
    followed = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filed = models.ForeignKey(
        Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("similar requests shown while filing")
        verbose_name_plural = _("similar requests shown while filing")

    def __str__(self):
        return self.token


# --- dashboard counters (tickets/counters.py) --------------------------------------------
#
# Kept in step with the tickets in the same transaction as each change, so that
# the dashboard reads a few hundred rows instead of every ticket of the period.
# Region and competence are plain numbers, 0 for "none": a NULL would not meet
# itself in the unique key that the upserts rely on.


class DayFigure(models.Model):
    """Tickets created on one local day in one region and competence, counted by state.

    The SLA columns count only tickets not merged into another (as the
    dashboard's SLA figures do); `open_count` counts every open ticket.
    """

    day = models.DateField()
    region_id = models.IntegerField(default=0)
    competence_id = models.IntegerField(default=0)
    open_count = models.IntegerField(default=0)
    counted = models.IntegerField(default=0)
    first_done = models.IntegerField(default=0)
    first_met = models.IntegerField(default=0)
    first_nodue = models.IntegerField(default=0)
    res_done = models.IntegerField(default=0)
    res_met = models.IntegerField(default=0)
    res_nodue = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "region_id", "competence_id"], name="day_figure_key"
            )
        ]
        indexes = [models.Index(fields=["region_id", "day"], name="day_figure_region")]


class ChannelFigure(models.Model):
    """Tickets created on one local day in one region through one channel (merged ones too)."""

    day = models.DateField()
    region_id = models.IntegerField(default=0)
    channel = models.CharField(max_length=10)
    created = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "region_id", "channel"], name="channel_figure_key"
            )
        ]
        indexes = [models.Index(fields=["region_id", "day"], name="channel_figure_region")]


class LoadFigure(models.Model):
    """All tickets of one region, assignee (0: nobody), competence and tier; the open ones.

    `breached` counts open tickets past their SLA not waiting on the requester
    (new or open), `open_unmerged` open tickets not merged into another.
    """

    region_id = models.IntegerField(default=0)
    assignee_id = models.IntegerField(default=0)
    competence_id = models.IntegerField(default=0)
    tier = models.CharField(max_length=10, default="")
    total = models.IntegerField(default=0)
    open_count = models.IntegerField(default=0)
    open_unmerged = models.IntegerField(default=0)
    waiting = models.IntegerField(default=0)
    breached = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region_id", "assignee_id", "competence_id", "tier"],
                name="load_figure_key",
            )
        ]
