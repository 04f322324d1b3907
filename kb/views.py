"""Knowledge-base pages: index, categories, articles, search, files, feedback,
revisions, the agents' lookup and report, and announcement dismissal.

Who may read what is decided by Article.objects.visible_to(); an article a
person may not read is a 404 for them, never a 403, so its address reveals
nothing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import is_agent
from helpdesk.dbrouter import reads_from_replica
from helpdesk.errors import DomainError
from kb import deflection, services
from kb.announcements import dismiss, shown_to_anyone
from kb.diffs import field_changes
from kb.models import (
    Announcement,
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleRevision,
    Category,
    Language,
)
from kb.rendering import render_markdown
from kb.search import search_articles, suggest_articles
from tickets.models import Message, Ticket

log = logging.getLogger(__name__)

SEARCH_LIMIT = 30
AGENT_SEARCH_LIMIT = 10


def current_language(request) -> str:
    """Return "bg" or "en": the interface language of this request."""
    code = (getattr(request, "LANGUAGE_CODE", None) or get_language() or "bg")[:2]
    return code if code in Language.values else "bg"


def _require_agent(request):
    if not is_agent(request.user):
        raise PermissionDenied


def _one_per_slug(articles, language: str) -> list[Article]:
    """Return one version of each article: in `language` if it exists, else another."""
    chosen: OrderedDict[str, Article] = OrderedDict()
    for article in articles:
        current = chosen.get(article.slug)
        if current is None or (current.language != language and article.language == language):
            chosen[article.slug] = article
    return list(chosen.values())


def _readable(request):
    return Article.objects.visible_to(request.user).published()


# --- public pages -----------------------------------------------------------------


@reads_from_replica
def index(request):
    language = current_language(request)
    articles = list(_readable(request).select_related("category").order_by("order", "title"))
    by_category: dict[int | None, list[Article]] = {}
    for article in _one_per_slug(articles, language):
        by_category.setdefault(article.category_id, []).append(article)
    sections = []
    for category in Category.objects.filter(parent__isnull=True).prefetch_related("children"):
        children = [
            {"category": child, "articles": by_category.get(child.pk, [])}
            for child in category.children.all()
        ]
        children = [c for c in children if c["articles"]]
        own = by_category.get(category.pk, [])
        if own or children:
            sections.append(
                {
                    "category": category,
                    "name": category.localized_name(language),
                    "articles": own,
                    "children": [
                        {**c, "name": c["category"].localized_name(language)} for c in children
                    ],
                }
            )
    loose = by_category.get(None, [])
    return render(
        request,
        "kb/index.html",
        {"sections": sections, "loose": loose, "language": language},
    )


@reads_from_replica
def category_detail(request, slug):
    language = current_language(request)
    category = get_object_or_404(Category.objects.select_related("parent"), slug=slug)
    readable = _readable(request).order_by("order", "title")
    articles = _one_per_slug(readable.filter(category=category), language)
    children = []
    for child in category.children.all():
        found = _one_per_slug(readable.filter(category=child), language)
        if found:
            children.append(
                {"category": child, "name": child.localized_name(language), "articles": found}
            )
    if not articles and not children:
        raise Http404(_("No such category."))
    return render(
        request,
        "kb/category.html",
        {
            "category": category,
            "name": category.localized_name(language),
            "parent_name": category.parent.localized_name(language) if category.parent else "",
            "articles": articles,
            "children": children,
            "language": language,
        },
    )


@reads_from_replica
def article_detail(request, lang, slug):
    article = get_object_or_404(
        Article.objects.visible_to(request.user).select_related("category", "category__parent"),
        language=lang,
        slug=slug,
    )
    token = request.GET.get("s", "")
    if token:
        deflection.record_suggestion_clicked(token[:32], article.pk)
    if not is_agent(request.user) and article.is_published:
        services.record_view(article)
    rendered = article.rendered()
    translations = list(
        Article.objects.visible_to(request.user)
        .filter(slug=article.slug)
        .exclude(pk=article.pk)
        .only("pk", "language", "slug", "title", "status")
    )
    category = article.category
    return render(
        request,
        "kb/article.html",
        {
            "article": article,
            "language_next": _language_next(article, translations),
            "body_html": rendered.html,
            "toc": rendered.toc,
            "translations": translations,
            "attachments": list(article.attachments.all()),
            "category": category,
            "category_name": category.localized_name(article.language) if category else "",
            "parent_name": (
                category.parent.localized_name(article.language)
                if category and category.parent_id
                else ""
            ),
            "can_edit": services.can_edit(request.user),
            "show_history": is_agent(request.user),
            "feedback_given": request.GET.get("thanks") == "1",
            "canonical_url": request.build_absolute_uri(article.get_absolute_url()),
        },
    )


def _language_next(article, translations) -> dict[str, str]:
    """Where the language switch leads from this article: {language: address}.

    To the same article in that language when it exists (and the reader may
    see it), else to the knowledge base's index in that language.
    """
    by_language = {t.language: t.get_absolute_url() for t in translations}
    by_language[article.language] = article.get_absolute_url()
    index = reverse("kb:index")
    return {code: by_language.get(code, index) for code in Language.values}


@require_POST
def article_feedback(request, lang, slug):
    article = get_object_or_404(_readable(request), language=lang, slug=slug)
    answer = request.POST.get("helpful")
    if answer not in ("yes", "no"):
        messages.error(request, _("Choose whether the article helped."))
        return redirect(article.get_absolute_url())
    helpful = answer == "yes"
    comment = request.POST.get("comment", "")
    if request.user.is_authenticated:
        services.record_feedback(article, user=request.user, helpful=helpful, comment=comment)
    else:
        _anonymous_feedback(request, article, helpful, comment)
    messages.success(request, _("Thank you for your feedback."))
    return HttpResponseRedirect(article.get_absolute_url() + "?thanks=1#feedback")


def _anonymous_feedback(request, article, helpful, comment):
    # One answer per visitor session: answering again changes the first one.
    given = request.session.get("kb_feedback", {})
    previous = given.get(str(article.pk))
    if previous:
        updated = article.feedback.filter(pk=previous, user__isnull=True).update(
            helpful=helpful, comment=comment.strip()[:2000]
        )
        if updated:
            return
    feedback = services.record_feedback(article, user=None, helpful=helpful, comment=comment)
    given[str(article.pk)] = feedback.pk
    request.session["kb_feedback"] = given


@reads_from_replica
def search(request):
    query = " ".join(request.GET.get("q", "").split())[:200]
    language = request.GET.get("lang") or current_language(request)
    if language not in (*Language.values, "all"):
        language = current_language(request)
    hits = []
    if query:
        hits = search_articles(
            request.user, query, None if language == "all" else language, SEARCH_LIMIT
        )
    return render(
        request,
        "kb/search.html",
        {"query": query, "hits": hits, "language": language, "languages": Language.choices},
    )


@require_GET
def attachment_download(request, pk, name):
    attachment = get_object_or_404(
        ArticleAttachment.objects.filter(article__in=Article.objects.visible_to(request.user)),
        pk=pk,
    )
    try:
        handle = attachment.file.open("rb")
    except OSError:
        log.error("kb attachment %s: stored file %s is missing", pk, attachment.file.name)
        raise Http404(_("No such file.")) from None
    response = FileResponse(
        handle,
        # PDFs and images are shown in the browser; the type was checked on upload.
        as_attachment=False,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    if attachment.article.visibility != "public" or not attachment.article.is_published:
        response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def suggest(request):
    """Return {"results": [...], "token": ...} for text typed into a form (?q=, ?token=)."""
    text = " ".join(request.GET.get("q", "").split())[:200]
    results = suggest_articles(request.user, text)
    token = ""
    if request.user.is_authenticated and results:
        token = deflection.record_suggestions_shown(
            request.user,
            [r["id"] for r in results],
            text,
            token=request.GET.get("token", "")[:32] or None,
        )
    for result in results:
        result["open_url"] = f"{result['url']}?s={token}" if token else result["url"]
    return JsonResponse({"results": results, "token": token})


# --- agents -------------------------------------------------------------------------


@require_GET
def agent_search(request):
    """Return articles for the console's "insert an article" box (agents only).

    ?q= the words; ?public=1 keeps only articles every requester can open;
    ?lang= narrows to one language. Each result has id, title, summary, url
    (absolute), language, visibility, snippet (safe HTML) and markdown (a link).
    """
    _require_agent(request)
    query = " ".join(request.GET.get("q", "").split())[:200]
    hits = search_articles(request.user, query, request.GET.get("lang") or None, AGENT_SEARCH_LIMIT)
    if request.GET.get("public") == "1":
        hits = [h for h in hits if h.article.visibility == "public"]
    results = []
    for hit in hits:
        url = request.build_absolute_uri(hit.url)
        results.append(
            {
                "id": hit.id,
                "title": hit.title,
                "summary": hit.summary,
                "url": url,
                "language": hit.article.language,
                "visibility": hit.article.visibility,
                "snippet": str(hit.snippet_html),
                "markdown": f"[{hit.title}]({url})",
            }
        )
    # "articles" is the name the console's script reads; "results" the documented one.
    return JsonResponse({"query": query, "results": results, "articles": results})


@require_POST
def draft_from_message(request, message_id):
    """Turn a support reply into a draft article; go to the draft (agents only)."""

    _require_agent(request)
    visible = Ticket.objects.visible_to(request.user)
    message = get_object_or_404(
        Message.objects.select_related("ticket").filter(ticket__in=visible), pk=message_id
    )
    try:
        article = services.draft_from_reply(message, request.user)
    except DomainError as error:
        if _wants_json(request):
            return JsonResponse({"error": str(error.message)}, status=400)
        messages.error(request, error.message)
        return HttpResponseRedirect(_safe_back(request, ""))
    if request.user.has_perm("kb.change_article"):
        target = reverse("admin:kb_article_change", args=[article.pk])
    else:
        target = article.get_absolute_url()
    if _wants_json(request):
        return JsonResponse({"id": article.pk, "url": target}, status=201)
    messages.success(request, _("A draft article was made from the reply."))
    return redirect(target)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@reads_from_replica
def report(request):
    """Per-article figures for agents and supervisors: readings, feedback, deflection."""
    _require_agent(request)
    articles = list(
        deflection.with_figures(Article.objects.select_related("category")).order_by(
            "language", "category__order", "order", "title"
        )
    )
    rows = [{"article": a, "figures": deflection.figures_of(a)} for a in articles]
    comments = ArticleFeedback.objects.exclude(comment="").select_related("article")[:30]
    return render(
        request,
        "kb/report.html",
        {"rows": rows, "failing": deflection.failing_articles(), "comments": comments},
    )


# --- revisions ------------------------------------------------------------------------


def _article_for_history(request, lang, slug) -> Article:
    if not is_agent(request.user):
        raise Http404(_("No such page."))
    return get_object_or_404(Article.objects.visible_to(request.user), language=lang, slug=slug)


def revision_list(request, lang, slug):
    article = _article_for_history(request, lang, slug)
    revisions = article.revisions.select_related("author")
    return render(
        request,
        "kb/revisions.html",
        {"article": article, "revisions": revisions, "can_edit": services.can_edit(request.user)},
    )


def revision_detail(request, pk):
    revision = get_object_or_404(ArticleRevision.objects.select_related("article", "author"), pk=pk)
    article = _article_for_history(request, revision.article.language, revision.article.slug)
    current = {"title": article.title, "summary": article.summary, "body": article.body}
    old = {"title": revision.title, "summary": revision.summary, "body": revision.body}
    return render(
        request,
        "kb/revision.html",
        {
            "article": article,
            "revision": revision,
            "revision_html": render_markdown(revision.body).html,
            "changes": field_changes(old, current),
            "can_edit": services.can_edit(request.user),
        },
    )


@require_POST
def revision_restore(request, pk):
    revision = get_object_or_404(ArticleRevision.objects.select_related("article"), pk=pk)
    article = _article_for_history(request, revision.article.language, revision.article.slug)
    if not services.can_edit(request.user):
        raise PermissionDenied
    try:
        new = services.restore_revision(revision, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("kb:revision", pk=revision.pk)
    messages.success(
        request,
        _("Revision %(old)s restored as revision %(new)s.")
        % {"old": revision.number, "new": new.number if new else "—"},
    )
    return redirect("kb:revisions", lang=article.language, slug=article.slug)


# --- announcements --------------------------------------------------------------------


@require_GET
def announcement_detail(request, pk):
    """An announcement's own page: the link a mass incident's acknowledgement gives."""
    announcement = get_object_or_404(Announcement, pk=pk)
    if not shown_to_anyone(announcement):
        raise Http404
    return render(request, "kb/announcement.html", {"announcement": announcement})


@login_required
@require_POST
def announcement_dismiss(request, pk):
    announcement = get_object_or_404(Announcement, pk=pk)
    dismiss(announcement, request.user)
    if _wants_json(request):
        return JsonResponse({"dismissed": announcement.pk})
    return HttpResponseRedirect(_safe_back(request, request.POST.get("next", "")))


def _safe_back(request, wanted: str) -> str:
    """Return `wanted`, else the referring page, if on this site; else the home page."""
    for target in (wanted, request.META.get("HTTP_REFERER", "")):
        if target and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return target
    return reverse("home")
