"""People and organisations: regions, institutions, roles, agents, delegations."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The e-mail address is the login (edu.mon.bg for staff)."""

    class Language(models.TextChoices):
        BG = "bg", _("Bulgarian")
        EN = "en", _("English")

    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.BG
    )
    is_staff = models.BooleanField(
        _("administration access"),
        default=False,
        help_text=_("May log in to the administration pages."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    email_undeliverable = models.BooleanField(_("e-mail bounces"), default=False)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def save(self, *args, **kwargs):
        self.email = self.email.lower()
        super().save(*args, **kwargs)

    @property
    def agent(self):
        """Return the AgentProfile or None, without raising."""
        try:
            return self.agent_profile
        except AgentProfile.DoesNotExist:
            return None

    @property
    def is_agent(self) -> bool:
        return self.agent is not None and self.is_active


class Region(models.Model):
    """One of the 28 regional education offices (РУО)."""

    code = models.CharField(_("code"), max_length=2, unique=True)
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("name in English"), max_length=80, blank=True)
    email = models.EmailField(_("office e-mail"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region (РУО)")
        verbose_name_plural = _("regions (РУО)")

    def __str__(self):
        return f"РУО {self.name}"


class Institution(models.Model):
    """A kindergarten, school or support centre, known by its НЕИСПУО code."""

    class Kind(models.TextChoices):
        SCHOOL = "school", _("school")
        KINDERGARTEN = "kindergarten", _("kindergarten")
        SUPPORT_CENTRE = "support_centre", _("centre for personal development support")
        OTHER = "other", _("other")

    code = models.CharField(_("НЕИСПУО code"), max_length=7, unique=True)
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.SCHOOL)
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="institutions", verbose_name=_("region")
    )
    municipality = models.CharField(_("municipality"), max_length=80, blank=True)
    town = models.CharField(_("town"), max_length=80, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")

    def __str__(self):
        return f"{self.code} {self.name}"

    def clean(self):
        if not self.code.isdigit():
            raise ValidationError({"code": _("The НЕИСПУО code is made of digits only.")})


class InstitutionDomain(models.Model):
    """An e-mail domain that identifies an institution's senders."""

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="domains", verbose_name=_("institution")
    )
    domain = models.CharField(_("domain"), max_length=190, unique=True)

    class Meta:
        verbose_name = _("e-mail domain")
        verbose_name_plural = _("e-mail domains")

    def __str__(self):
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    DIRECTOR = "director", _("director")
    DEPUTY_DIRECTOR = "deputy_director", _("deputy director")
    ICT_LEAD = "ict_lead", _("ICT lead")
    TEACHER = "teacher", _("teacher")
    SECRETARY = "secretary", _("secretary")


# Roles that see every request of their institution, and may set priority.
INSTITUTION_WIDE_ROLES = frozenset({Role.DIRECTOR, Role.DEPUTY_DIRECTOR, Role.ICT_LEAD})


class Membership(models.Model):
    """A person's role at an institution."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("person"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("institution"),
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "institution"], name="one_role_per_institution")
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} — {self.get_role_display()}, {self.institution}"


class AgentProfile(models.Model):
    """Someone who answers requests: a regional expert, central support or a supervisor."""

    class Tier(models.TextChoices):
        REGIONAL = "regional", _("regional office (РУО)")
        CENTRAL = "central", _("central support")

    class Kind(models.TextChoices):
        EXPERT = "expert", _("expert")
        SUPERVISOR = "supervisor", _("supervisor")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="agent_profile",
        verbose_name=_("person"),
    )
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.EXPERT)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agents",
        verbose_name=_("region"),
        help_text=_("Empty for central support and for national supervisors."),
    )
    competences = models.ManyToManyField(
        "tickets.Competence", blank=True, related_name="agents", verbose_name=_("competences")
    )
    capacity = models.PositiveIntegerField(
        _("capacity"), default=15, help_text=_("Open requests this person can carry at once.")
    )
    last_assigned_at = models.DateTimeField(_("last assignment"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    def __str__(self):
        return f"{self.user} ({self.get_tier_display()})"

    def clean(self):
        if self.tier == self.Tier.REGIONAL and self.region_id is None:
            raise ValidationError({"region": _("A regional expert needs a region.")})
        if self.capacity == 0 and self.kind == self.Kind.EXPERT:
            raise ValidationError({"capacity": _("An expert's capacity must be at least 1.")})

    @property
    def is_supervisor(self) -> bool:
        return self.kind == self.Kind.SUPERVISOR

    def is_absent(self, at=None) -> bool:
        at = at or timezone.now()
        return self.absences.filter(starts_at__lte=at, ends_at__gt=at).exists()


class Absence(models.Model):
    """A period when an agent gets no new assignments."""

    agent = models.ForeignKey(
        AgentProfile, on_delete=models.CASCADE, related_name="absences", verbose_name=_("agent")
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["agent", "starts_at", "ends_at"])]
        verbose_name = _("absence")
        verbose_name_plural = _("absences")

    def __str__(self):
        return f"{self.agent}: {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")})
        if self.agent_id and self.starts_at and self.ends_at:
            overlapping = Absence.objects.filter(
                agent_id=self.agent_id, starts_at__lt=self.ends_at, ends_at__gt=self.starts_at
            ).exclude(pk=self.pk)
            if overlapping.exists():
                raise ValidationError(_("This absence overlaps another one of the same agent."))


class DelegationQuerySet(models.QuerySet):
    def active(self, at=None):
        """Return delegations in force at `at` (now by default)."""
        at = at or timezone.now()
        return self.filter(valid_from__lte=at, valid_until__gt=at, revoked_at__isnull=True)


class Delegation(models.Model):
    """Rights a director lends to a colleague of the same institution for a period."""

    class Right(models.TextChoices):
        FILE = "file", _("file requests for the institution")
        FOLLOW = "follow", _("follow the institution's requests")

    institution = models.ForeignKey(
        Institution,
        on_delete=models.CASCADE,
        related_name="delegations",
        verbose_name=_("institution"),
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="delegations_granted",
        verbose_name=_("granted by"),
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="delegations_received",
        verbose_name=_("delegate"),
    )
    rights = models.JSONField(_("rights"), default=list)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    created_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="delegations_revoked",
        verbose_name=_("revoked by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = DelegationQuerySet.as_manager()

    class Meta:
        ordering = ["-valid_from"]
        indexes = [models.Index(fields=["delegate", "valid_until"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gt=models.F("valid_from")),
                name="delegation_period_positive",
            )
        ]
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")

    def __str__(self):
        return f"{self.granted_by} → {self.delegate} ({self.institution.code})"

    def is_active(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and self.valid_from <= at < self.valid_until

    @property
    def state(self) -> str:
        now = timezone.now()
        if self.revoked_at:
            return "revoked"
        if now < self.valid_from:
            return "scheduled"
        if now >= self.valid_until:
            return "expired"
        return "active"


class AccountEventQuerySet(models.QuerySet):
    """Rows of the access audit are only ever added: bulk updates and deletes are refused."""

    def update(self, **kwargs):
        raise TypeError("The access audit is append-only: account events cannot be changed.")

    def delete(self):
        raise TypeError("The access audit is append-only: account events cannot be deleted.")


class AccountEvent(models.Model):
    """The access audit: logins, failures, lockouts and every change to people's rights.

    Append-only: a row is written once (save() refuses an update, delete()
    refuses, and so do the queryset's bulk update() and delete()); the admin
    shows rows and exports them, nothing else. Links to people, institutions
    and delegations are SET_NULL, so deleting one of them keeps its history
    (the details keep the e-mail address or code as text).
    """

    class Kind(models.TextChoices):
        LOGIN = "login", _("login")
        LOGIN_FAILED = "login_failed", _("failed login")
        LOCKOUT = "lockout", _("locked out after failed logins")
        OTP_ENROLLED = "otp_enrolled", _("second factor set up")
        OTP_VERIFIED = "otp_verified", _("second-factor code given")
        OTP_FAILED = "otp_failed", _("wrong second-factor code")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("password reset asked for")
        PASSWORD_RESET_DONE = "password_reset_done", _("password set through a reset link")
        DELEGATION_GRANTED = "delegation_granted", _("delegation granted")
        DELEGATION_REVOKED = "delegation_revoked", _("delegation revoked")
        MEMBERSHIP_ADDED = "membership_added", _("membership added")
        MEMBERSHIP_CHANGED = "membership_changed", _("role at an institution changed")
        MEMBERSHIP_REMOVED = "membership_removed", _("membership removed")
        ADMIN_RIGHTS_CHANGED = "admin_rights_changed", _("administration rights changed")
        AGENT_ADDED = "agent_added", _("agent profile added")
        AGENT_CHANGED = "agent_changed", _("agent profile changed")
        AGENT_REMOVED = "agent_removed", _("agent profile removed")
        DIRECTORY_IMPORT = "directory_import", _("directory import")
        DEACTIVATED = "deactivated", _("account deactivated")
        REACTIVATED = "reactivated", _("account reactivated")
        LOGIN_UNKNOWN_INSTITUTION = (
            "login_unknown_institution",
            _("login naming an unknown institution"),
        )
        EGN_REVEALED = "egn_revealed", _("personal number (ЕГН) revealed")
        PERSONAL_DATA_EXPORTED = "personal_data_exported", _("personal data exported")
        ANONYMISED = "anonymised", _("person anonymised")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person concerned"),
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("institution"),
    )
    delegation = models.ForeignKey(
        Delegation, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=40, choices=Kind.choices)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    objects = AccountEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["kind", "created_at"]),
            models.Index(fields=["subject", "created_at"]),
        ]
        verbose_name = _("account event")
        verbose_name_plural = _("account events")

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("The access audit is append-only: account events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The access audit is append-only: account events cannot be deleted.")
