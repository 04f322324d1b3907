"""Every write to knowledge-base articles: saving with revisions, restoring,
files, views, feedback, the search index, and drafts made from replies.

The admin, the pages, load_kb and the console all call these; there are no
signals. Each write that changes an article's text also refreshes its
SearchDocument (and, on SQLite, the FTS5 mirror) in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import re

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import is_agent
from helpdesk.errors import DomainError, NotAllowed
from helpdesk.stemming import stemmed_text
from helpdesk.uploads import check_file
from kb.models import (
    KB_FILE_TYPES,
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleRevision,
    SearchDocument,
    Status,
    Visibility,
)
from kb.rendering import plain_text
from kb.search_backends import get_backend
from kb.slugs import slugify_text
from tickets.models import Ticket

CONTENT_FIELDS = ("title", "summary", "body")


def content_digest(
    *,
    title: str,
    summary: str,
    body: str,
    tags: str,
    visibility: str,
    status: str,
    order: int,
    category: str,
    competences,
) -> str:
    """Return a SHA-256 over everything load_kb writes into an article."""
    data = {
        "title": title.strip(),
        "summary": _lf(summary).strip(),
        "body": _lf(body).strip(),
        "tags": tags,
        "visibility": visibility,
        "status": status,
        "order": order,
        "category": category or "",
        "competences": sorted(competences),
    }
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def _lf(text: str) -> str:
    return (text or "").replace("\r\n", "\n")


def article_digest(article: Article) -> str:
    """Return content_digest() of an article as it is stored now."""
    return content_digest(
        title=article.title,
        summary=article.summary,
        body=article.body,
        tags=article.tags,
        visibility=article.visibility,
        status=article.status,
        order=article.order,
        category=article.category.slug if article.category_id else "",
        competences=article.competences.values_list("code", flat=True),
    )


def save_article(
    article: Article, *, actor, competences=None, note: str = "", now=None
) -> ArticleRevision | None:
    """Save `article` and return the new revision, or None when its text did not change.

    A revision (title, summary and body, with author and time) is written only
    when the text differs from the latest revision. `competences`, when given,
    replaces the article's competence links. The search index follows.
    """
    now = now or timezone.now()
    # Browsers send textarea lines with CRLF; keep one form so revisions compare.
    article.summary = _lf(article.summary)
    article.body = _lf(article.body)
    if article.status == Status.PUBLISHED and article.published_at is None:
        article.published_at = now
    article.updated_at = now
    if actor is not None:
        article.updated_by = actor
    with transaction.atomic():
        article.save()
        if competences is not None:
            article.competences.set(competences)
        revision = _record_revision(article, actor=actor, note=note, now=now)
        index_article(article)
    return revision


def create_article(
    *,
    actor,
    language: str,
    slug: str,
    title: str,
    summary: str = "",
    body: str = "",
    category=None,
    tags: str = "",
    visibility: str = Visibility.PUBLIC,
    status: str = Status.DRAFT,
    order: int = 100,
    competences=(),
    note: str = "",
) -> Article:
    """Create an article with its first revision; return it.

    Raises DomainError when the slug is already used in that language.
    """
    if Article.objects.filter(language=language, slug=slug).exists():
        raise DomainError(_("An article with this address already exists."), field="slug")
    article = Article(
        language=language,
        slug=slug,
        title=title,
        summary=summary,
        body=body,
        category=category,
        tags=tags,
        visibility=visibility,
        status=status,
        order=order,
        created_at=timezone.now(),
    )
    save_article(article, actor=actor, competences=list(competences), note=note)
    return article


def _record_revision(article: Article, *, actor, note: str, now) -> ArticleRevision | None:
    latest = article.revisions.order_by("-number").first()
    if latest is not None and all(
        getattr(latest, name) == getattr(article, name) for name in CONTENT_FIELDS
    ):
        return None
    return ArticleRevision.objects.create(
        article=article,
        number=(latest.number + 1) if latest else 1,
        title=article.title,
        summary=article.summary,
        body=article.body,
        author=actor,
        note=note[:200],
        created_at=now,
    )


def can_edit(user) -> bool:
    """Return True if `user` may change articles (the admin's change permission)."""
    return bool(user and user.is_authenticated and user.has_perm("kb.change_article"))


def restore_revision(revision: ArticleRevision, *, actor) -> ArticleRevision:
    """Put `revision`'s text back as the current text; return the new revision.

    Restoring never rewrites history: it adds a revision that copies the old one.
    Raises NotAllowed for people who may not edit articles, DomainError when
    the text is already the current one.
    """
    if not can_edit(actor):
        raise NotAllowed(_("You may not edit knowledge-base articles."))
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=revision.article_id)
        if all(getattr(article, name) == getattr(revision, name) for name in CONTENT_FIELDS):
            raise DomainError(_("This revision is already the current text."))
        for name in CONTENT_FIELDS:
            setattr(article, name, getattr(revision, name))
        return save_article(
            article,
            actor=actor,
            note=_("Restored from revision %(number)s") % {"number": revision.number},
        )


def delete_article(article: Article) -> None:
    """Delete an article together with its search entries."""
    with transaction.atomic():
        get_backend().remove(article.pk)
        article.delete()


# --- search index --------------------------------------------------------------


def index_article(article: Article) -> None:
    """Write the article's stemmed title, summary (with tags) and body to the index."""
    title = stemmed_text(article.title)
    summary = stemmed_text(plain_text(article.summary) + " " + article.tags.replace(",", " "))
    body = stemmed_text(plain_text(article.body))
    SearchDocument.objects.update_or_create(
        article=article,
        defaults={
            "title": title,
            "summary": summary,
            "body": body,
            "updated_at": timezone.now(),
        },
    )
    get_backend().write(article.pk, title, summary, body)


def rebuild_index() -> int:
    """Index every article again; return how many were indexed."""
    count = 0
    with transaction.atomic():
        for article in Article.objects.all().iterator():
            index_article(article)
            count += 1
    return count


# --- files, views, feedback ------------------------------------------------------


def add_attachment(article: Article, *, name: str, data: bytes, actor) -> ArticleAttachment:
    """Check a PDF or image by its content and attach it; return the attachment.

    Raises helpdesk.uploads.UploadRejected with a reason for people.
    """

    checked = check_file(name, data, allowed=KB_FILE_TYPES)
    attachment = ArticleAttachment(
        article=article,
        original_name=checked.name,
        content_type=checked.content_type,
        size=checked.size,
        sha256=checked.sha256,
        uploaded_by=actor,
    )
    attachment.file.save(checked.name, ContentFile(checked.content), save=False)
    attachment.save()
    return attachment


def record_view(article: Article) -> None:
    """Count one reading of the article."""
    Article.objects.filter(pk=article.pk).update(views=F("views") + 1)


def record_feedback(article: Article, *, user, helpful: bool, comment: str = "") -> ArticleFeedback:
    """Store a "was this helpful" answer; return it.

    A logged-in person has one answer per article: answering again replaces it.
    """
    comment = (comment or "").strip()[:2000]
    if user is not None and user.is_authenticated:
        feedback, _created = ArticleFeedback.objects.update_or_create(
            article=article,
            user=user,
            defaults={"helpful": helpful, "comment": comment, "created_at": timezone.now()},
        )
        return feedback
    return ArticleFeedback.objects.create(article=article, helpful=helpful, comment=comment)


# --- drafts from replies ------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A Bulgarian personal number (ЕГН) or any other long digit run.
_PERSONAL_NUMBER = re.compile(r"\b\d{10}\b")


def _anonymise(text: str) -> str:
    text = _EMAIL.sub("[e-mail]", text)
    return _PERSONAL_NUMBER.sub("[№]", text)


def draft_from_reply(message, actor) -> Article:
    """Turn a support reply into a draft article (agents only); return the draft.

    The ticket's subject becomes the title, the reply (with e-mail addresses
    and ten-digit numbers masked) the body, the ticket's competence the
    competence link. The draft is visible to agents only until an editor
    publishes it. Raises NotAllowed unless `actor` is an agent who can see
    the ticket, DomainError for a message that is not a staff reply.
    """

    if not is_agent(actor):
        raise NotAllowed(_("Only support agents can turn replies into articles."))
    if not Ticket.objects.visible_to(actor).filter(pk=message.ticket_id).exists():
        raise NotAllowed(_("You cannot see this request."))
    if not message.from_staff:
        raise DomainError(_("Only replies written by support staff can become articles."))
    ticket = message.ticket
    body = _anonymise(message.body_text.strip())
    title = _anonymise(ticket.subject.strip())[:200] or _("Draft article")
    first_paragraph = body.split("\n\n", 1)[0].replace("\n", " ")
    summary = first_paragraph[:300]
    language = getattr(actor, "language", "bg") or "bg"
    base = slugify_text(title, max_length=100) or "article"
    slug, number = base, 2
    while Article.objects.filter(language=language, slug=slug).exists():
        slug = f"{base}-{number}"
        number += 1
    competences = [ticket.competence] if ticket.competence_id else []
    return create_article(
        actor=actor,
        language=language,
        slug=slug,
        title=title,
        summary=summary,
        body=body,
        visibility=Visibility.AGENTS,
        status=Status.DRAFT,
        competences=competences,
        note=_("Drafted from a reply to request %(reference)s") % {"reference": ticket.reference},
    )
