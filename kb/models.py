"""The knowledge base: categories, articles and their revisions, files, feedback,
search documents, suggestion records (deflection) and announcements.

One Article row is one article in one language. Translations are the rows
with the same slug in the other language, so the URL /kb/<lang>/<slug>/ is
stable and the language switch is a lookup by slug. Revisions, views and
feedback belong to a language version, because their text differs.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kb.querysets import AnnouncementQuerySet, ArticleQuerySet
from kb.rendering import render_markdown


class Language(models.TextChoices):
    BG = "bg", _("Bulgarian")
    EN = "en", _("English")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("public")
    STAFF = "staff", _("institution staff and agents")
    AGENTS = "agents", _("agents only")


class Status(models.TextChoices):
    DRAFT = "draft", _("draft")
    PUBLISHED = "published", _("published")


class Category(models.Model):
    """A group of articles; top-level categories may have one level of children."""

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name (Bulgarian)"), max_length=150)
    name_en = models.CharField(_("name (English)"), max_length=150, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent category"),
        limit_choices_to={"parent__isnull": True},
    )
    order = models.IntegerField(_("order"), default=100)

    class Meta:
        ordering = ["order", "slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self):
        if self.parent_id:
            return f"{self.parent.name} / {self.name}"
        return self.name

    def clean(self):
        if self.parent_id is None:
            return
        if self.parent_id == self.pk:
            raise ValidationError({"parent": _("A category cannot be its own parent.")})
        if self.parent.parent_id is not None:
            raise ValidationError({"parent": _("Categories nest one level only.")})
        if self.pk and self.children.exists():
            raise ValidationError(
                {"parent": _("This category has subcategories, so it must stay top-level.")}
            )

    def localized_name(self, language: str) -> str:
        return self.name_en if language == "en" and self.name_en else self.name

    def get_absolute_url(self):
        return reverse("kb:category", args=[self.slug])


class Article(models.Model):
    """One article in one language."""

    slug = models.SlugField(
        _("slug"),
        max_length=120,
        help_text=_("Part of the address; translations of one article share it."),
    )
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.BG
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("category"),
    )
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), max_length=600, blank=True)
    body = models.TextField(_("text (Markdown)"), blank=True)
    tags = models.CharField(_("tags"), max_length=400, blank=True, help_text=_("Comma-separated."))
    competences = models.ManyToManyField(
        "tickets.Competence", blank=True, related_name="articles", verbose_name=_("competences")
    )
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    order = models.IntegerField(_("order"), default=100)
    views = models.PositiveIntegerField(_("views"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("last change"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    # Digest of the content as load_kb last wrote it; a different digest of
    # the current content means someone edited the article after loading.
    source_digest = models.CharField(_("loaded content digest"), max_length=64, blank=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["order", "title"]
        constraints = [
            models.UniqueConstraint(fields=["language", "slug"], name="kb_article_language_slug")
        ]
        indexes = [models.Index(fields=["status", "visibility", "language"])]
        verbose_name = _("article")
        verbose_name_plural = _("articles")

    def __str__(self):
        return f"{self.title} ({self.language})"

    def get_absolute_url(self):
        return reverse("kb:article", args=[self.language, self.slug])

    @property
    def is_published(self) -> bool:
        return self.status == Status.PUBLISHED

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]

    def rendered(self):
        """Return the body rendered and sanitised (kb.rendering.Rendered)."""

        return render_markdown(self.body)


class ArticleRevision(models.Model):
    """A snapshot of an article's text after a change: who, when, what."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("article")
    )
    number = models.PositiveIntegerField(_("number"))
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    body = models.TextField(_("text (Markdown)"), blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_revision_number")
        ]
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")

    def __str__(self):
        return f"{self.article.title} #{self.number}"

    def get_absolute_url(self):
        return reverse("kb:revision", args=[self.pk])


KB_FILE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})


def attachment_path(instance, filename):
    # Content-addressed, outside the web root; the name never comes from a person.
    digest = instance.sha256
    return f"kb/{digest[:2]}/{digest}"


class ArticleAttachment(models.Model):
    """A PDF or an image of an article, served only to those who may read the article."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("article")
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("detected type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("uploaded by"),
    )
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("article file")
        verbose_name_plural = _("article files")

    def __str__(self):
        return self.original_name

    def get_absolute_url(self):
        return reverse("kb:attachment", args=[self.pk, self.original_name])

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class ArticleFeedback(models.Model):
    """One "was this helpful?" answer, with an optional comment."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="feedback", verbose_name=_("article")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person"),
    )
    helpful = models.BooleanField(_("helpful"))
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["article", "helpful"])]
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")

    def __str__(self):
        return f"{self.article} — {'+' if self.helpful else '−'}"


class SearchDocument(models.Model):
    """An article's text as stems, the input of full-text search on every backend.

    Written only by kb.services (never by signals). On SQLite the service also
    mirrors it into the FTS5 table kb_fts (see migration 0002).
    """

    article = models.OneToOneField(
        Article, on_delete=models.CASCADE, related_name="search_document", primary_key=True
    )
    title = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")

    def __str__(self):
        return str(self.article_id)


def new_token() -> str:
    return uuid.uuid4().hex


class DeflectionRecord(models.Model):
    """Articles the filing form suggested to a person, and whether they filed anyway."""

    token = models.CharField(_("token"), max_length=32, unique=True, default=new_token)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("person"),
    )
    query = models.CharField(_("typed text"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("shown"), default=timezone.now, db_index=True)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("request filed anyway"),
    )
    filed_at = models.DateTimeField(_("filed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("suggestion record")
        verbose_name_plural = _("suggestion records")

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.query[:40]}"


class SuggestedArticle(models.Model):
    """One article shown in one DeflectionRecord; clicked_at when it was opened."""

    record = models.ForeignKey(
        DeflectionRecord, on_delete=models.CASCADE, related_name="items", verbose_name=_("record")
    )
    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="suggestions", verbose_name=_("article")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    clicked_at = models.DateTimeField(_("opened at"), null=True, blank=True)

    class Meta:
        ordering = ["record", "position"]
        constraints = [
            models.UniqueConstraint(fields=["record", "article"], name="kb_suggested_once")
        ]
        verbose_name = _("suggested article")
        verbose_name_plural = _("suggested articles")

    def __str__(self):
        return f"{self.record_id}: {self.article_id}"


class Announcement(models.Model):
    """A banner for a campaign or an outage, for all or some regions, for a period."""

    title = models.CharField(_("title"), max_length=150)
    text = models.CharField(_("text"), max_length=500, blank=True)
    regions = models.ManyToManyField(
        "accounts.Region",
        blank=True,
        related_name="+",
        verbose_name=_("regions"),
        help_text=_("Leave empty to show it in every region."),
    )
    starts_at = models.DateTimeField(_("shown from"), default=timezone.now)
    ends_at = models.DateTimeField(_("shown until"))
    article = models.ForeignKey(
        Article,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("article"),
    )
    link_text = models.CharField(_("link text"), max_length=80, blank=True)
    show_on_portal = models.BooleanField(_("show on the portal"), default=True)
    show_on_console = models.BooleanField(_("show in the console"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = AnnouncementQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"])]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")

    def __str__(self):
        return self.title

    def clean(self):
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": _("The end must be after the start.")})


class AnnouncementDismissal(models.Model):
    """A person hid an announcement; it stays hidden for them."""

    announcement = models.ForeignKey(
        Announcement,
        on_delete=models.CASCADE,
        related_name="dismissals",
        verbose_name=_("announcement"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("person"),
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["announcement", "user"], name="kb_dismiss_once")
        ]
        verbose_name = _("dismissed announcement")
        verbose_name_plural = _("dismissed announcements")

    def __str__(self):
        return f"{self.user} × {self.announcement}"
