"""Administration of the knowledge base: articles with history and figures,
categories, files, feedback, suggestion records and announcements.

Article saves and deletions go through kb.services, so revisions and the
search index stay in step with what editors do here.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kb import deflection, services
from kb.announcements import forget_cached
from kb.forms import ArticleAttachmentForm
from kb.models import (
    Announcement,
    AnnouncementDismissal,
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleRevision,
    Category,
    DeflectionRecord,
    SearchDocument,
    SuggestedArticle,
)


def _percent(value):
    return "—" if value is None else f"{round(value * 100)}%"


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "name_en", "slug", "parent", "order")
    list_filter = ("parent",)
    search_fields = ("name", "name_en", "slug")
    prepopulated_fields = {"slug": ("name_en",)}
    ordering = ("parent__order", "order")


class AttachmentInline(admin.TabularInline):
    model = ArticleAttachment
    form = ArticleAttachmentForm
    extra = 0
    fields = ("upload", "link", "content_type", "size", "uploaded_by", "created_at")
    readonly_fields = ("link", "content_type", "size", "uploaded_by", "created_at")
    verbose_name = _("file")
    verbose_name_plural = _("files (PDF guides, images)")

    @admin.display(description=_("address for the text"))
    def link(self, attachment):
        if not attachment.pk:
            return "—"
        url = attachment.get_absolute_url()
        return format_html('<a href="{}">{}</a><br><code>{}</code>', url, attachment, url)


class RevisionInline(admin.TabularInline):
    model = ArticleRevision
    extra = 0
    can_delete = False
    fields = ("number", "created_at", "author", "note", "view")
    readonly_fields = fields
    ordering = ("-number",)
    verbose_name_plural = _("revision history")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description=_("view, compare, restore"))
    def view(self, revision):
        return format_html('<a href="{}">{}</a>', revision.get_absolute_url(), _("open"))


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "language",
        "category",
        "visibility",
        "status",
        "views",
        "helpful_rate",
        "shown",
        "clicked",
        "filed_anyway",
        "updated_at",
    )
    list_filter = ("language", "status", "visibility", "category", "competences")
    search_fields = ("title", "summary", "slug", "tags")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("competences",)
    readonly_fields = ("views", "figures", "created_at", "updated_at", "updated_by", "published_at")
    fieldsets = (
        (None, {"fields": ("title", "slug", "language", "category", "summary", "body")}),
        (
            _("Publishing"),
            {"fields": ("status", "visibility", "order", "tags", "competences")},
        ),
        (
            _("Figures"),
            {
                "fields": (
                    "figures",
                    "views",
                    "created_at",
                    "updated_at",
                    "updated_by",
                    "published_at",
                )
            },
        ),
    )
    inlines = (AttachmentInline, RevisionInline)
    actions = ("publish", "unpublish")
    view_on_site = True

    def get_queryset(self, request):
        return deflection.with_figures(super().get_queryset(request).select_related("category"))

    @admin.display(description=_("helpful"))
    def helpful_rate(self, article):
        figures = deflection.figures_of(article)
        answers = figures.helpful + figures.not_helpful
        return f"{_percent(figures.helpful_rate)} ({answers})" if answers else "—"

    @admin.display(description=_("suggested"), ordering="fig_shown")
    def shown(self, article):
        return article.fig_shown

    @admin.display(description=_("opened from a suggestion"), ordering="fig_clicked")
    def clicked(self, article):
        return article.fig_clicked

    @admin.display(description=_("filed anyway"), ordering="fig_filed_anyway")
    def filed_anyway(self, article):
        return article.fig_filed_anyway

    @admin.display(description=_("figures"))
    def figures(self, article):
        if not article.pk:
            return "—"
        f = deflection.figures_of(article)
        return format_html(
            "{}: {} · {}: {} / {} ({}) · {}: {} · {}: {} · {}: {} ({})",
            _("views"),
            f.views,
            _("helpful / not helpful"),
            f.helpful,
            f.not_helpful,
            _percent(f.helpful_rate),
            _("suggested"),
            f.shown,
            _("opened"),
            f.clicked,
            _("filed anyway"),
            f.filed_anyway,
            _percent(f.filed_anyway_rate),
        )

    def save_model(self, request, obj, form, change):
        # Competences are saved by save_related(); the revision needs only the text.
        services.save_article(obj, actor=request.user, note=str(_("Edited in the administration")))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            if formset.model is ArticleAttachment:
                for attachment in formset.new_objects:
                    if attachment.uploaded_by_id is None:
                        attachment.uploaded_by = request.user
                        attachment.save(update_fields=["uploaded_by"])
        # Tags or competences may have changed after save_model indexed the article.
        services.index_article(form.instance)

    def delete_model(self, request, obj):
        services.delete_article(obj)

    def delete_queryset(self, request, queryset):
        for article in queryset:
            services.delete_article(article)

    @admin.action(description=_("Publish the selected articles"))
    def publish(self, request, queryset):
        for article in queryset:
            article.status = "published"
            services.save_article(article, actor=request.user, note=str(_("Published")))

    @admin.action(description=_("Return the selected articles to drafts"))
    def unpublish(self, request, queryset):
        for article in queryset:
            article.status = "draft"
            services.save_article(article, actor=request.user, note=str(_("Unpublished")))


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(admin.ModelAdmin):
    list_display = ("article", "number", "created_at", "author", "note", "compare")
    list_filter = ("article__language",)
    search_fields = ("article__title", "title", "note")
    readonly_fields = (
        "article",
        "number",
        "title",
        "summary",
        "body",
        "author",
        "note",
        "created_at",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("compare with the current text"))
    def compare(self, revision):
        return format_html('<a href="{}">{}</a>', revision.get_absolute_url(), _("open"))


@admin.register(ArticleAttachment)
class ArticleAttachmentAdmin(admin.ModelAdmin):
    list_display = ("original_name", "article", "content_type", "size", "created_at")
    search_fields = ("original_name", "article__title")
    readonly_fields = ("article", "original_name", "content_type", "size", "sha256", "file")

    def has_add_permission(self, request):
        # Files are added on the article's page, where they are checked.
        return False


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(admin.ModelAdmin):
    list_display = ("article", "helpful", "short_comment", "user", "created_at")
    list_filter = ("helpful", "article__language")
    search_fields = ("article__title", "comment")
    readonly_fields = ("article", "user", "helpful", "comment", "created_at")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("comment"))
    def short_comment(self, feedback):
        return feedback.comment[:80]


class SuggestedArticleInline(admin.TabularInline):
    model = SuggestedArticle
    extra = 0
    can_delete = False
    readonly_fields = ("article", "position", "clicked_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DeflectionRecord)
class DeflectionRecordAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "query", "article_count", "ticket_link")
    list_filter = (("ticket", admin.EmptyFieldListFilter),)
    search_fields = ("query", "user__email")
    readonly_fields = ("token", "user", "query", "created_at", "ticket", "filed_at")
    inlines = (SuggestedArticleInline,)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("articles shown"))
    def article_count(self, record):
        return record.items.count()

    @admin.display(description=_("request filed anyway"))
    def ticket_link(self, record):
        return record.ticket.reference if record.ticket_id else "—"


@admin.register(SearchDocument)
class SearchDocumentAdmin(admin.ModelAdmin):
    list_display = ("article", "updated_at")
    readonly_fields = ("article", "title", "summary", "body", "updated_at")
    actions = ("rebuild",)

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Rebuild the whole search index"))
    def rebuild(self, request, queryset):
        count = services.rebuild_index()
        self.message_user(request, _("%(count)s articles indexed.") % {"count": count})


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "starts_at",
        "ends_at",
        "region_list",
        "show_on_portal",
        "show_on_console",
        "is_active",
    )
    list_filter = ("show_on_portal", "show_on_console", "regions")
    search_fields = ("title", "text")
    filter_horizontal = ("regions",)
    raw_id_fields = ("article",)
    readonly_fields = ("created_by", "created_at")

    def save_model(self, request, obj, form, change):
        if obj.created_by_id is None:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        forget_cached()  # the regions are saved here, after the announcement

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        forget_cached()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        forget_cached()

    @admin.display(description=_("regions"))
    def region_list(self, announcement):
        names = [region.name for region in announcement.regions.all()]
        return ", ".join(names) if names else _("all regions")

    @admin.display(description=_("shown now"), boolean=True)
    def is_active(self, announcement):
        now = timezone.now()
        return announcement.starts_at <= now < announcement.ends_at


@admin.register(AnnouncementDismissal)
class AnnouncementDismissalAdmin(admin.ModelAdmin):
    list_display = ("announcement", "user", "created_at")
    search_fields = ("announcement__title", "user__email")
    readonly_fields = ("announcement", "user", "created_at")

    def has_add_permission(self, request):
        return False
