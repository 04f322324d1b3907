"""Load the knowledge-base content of kb/content into the database (idempotent).

An article that someone edited after it was loaded (in the admin) is left
alone unless --force is given; one whose file did not change is not touched;
a revision is written only when the text changed.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from kb import services
from kb.frontmatter import iter_content, load_categories
from kb.models import Article, Category
from tickets.catalogue import ensure_competences

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "content"


class Command(BaseCommand):
    help = "Load or update knowledge-base categories and articles from kb/content."

    def add_arguments(self, parser):
        parser.add_argument("--path", default=str(DEFAULT_ROOT), help="content folder")
        parser.add_argument(
            "--force",
            action="store_true",
            help="overwrite articles that were edited after they were loaded",
        )

    def handle(self, *args, path, force, **options):
        root = Path(path)
        try:
            categories = load_categories(root)
            sources = list(iter_content(root))
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc))
        counts = {"created": 0, "updated": 0, "unchanged": 0, "kept": 0}
        with transaction.atomic():
            by_slug = self._categories(categories)
            competences = self._competences()
            for source in sources:
                outcome = self._article(source, by_slug, competences, force)
                counts[outcome] += 1
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    "knowledge base: {created} created, {updated} updated, "
                    "{unchanged} unchanged, {kept} kept (edited after loading; --force "
                    "overwrites)".format(**counts)
                )
            )

    def _categories(self, categories):
        by_slug = {}
        for item in categories:
            category, _created = Category.objects.update_or_create(
                slug=item["slug"],
                defaults={
                    "name": item["name_bg"],
                    "name_en": item["name_en"],
                    "parent": by_slug.get(item["parent"]) if item["parent"] else None,
                    "order": item["order"],
                },
            )
            by_slug[item["slug"]] = category
        return by_slug

    def _competences(self):

        return ensure_competences()

    def _article(self, source, categories, competences, force) -> str:
        meta = source.meta
        tags = ", ".join(meta["tags"])
        body = source.body.replace("\r\n", "\n").strip() + "\n"
        wanted = {
            "title": meta["title"].strip(),
            "summary": meta["summary"].strip(),
            "body": body,
            "tags": tags,
            "visibility": meta["visibility"],
            "status": meta["status"],
            "order": meta["order"],
        }
        digest = services.content_digest(
            **wanted, category=source.category_slug, competences=meta["competences"]
        )
        linked = [competences[code] for code in meta["competences"] if code in competences]
        category = categories.get(source.category_slug)
        article = Article.objects.filter(language=source.lang, slug=source.slug).first()
        if article is None:
            article = Article(language=source.lang, slug=source.slug, category=category, **wanted)
            article.source_digest = digest
            services.save_article(article, actor=None, competences=linked, note="load_kb")
            return "created"
        if article.source_digest == digest:
            return "unchanged"
        # Without a digest the article was written in the admin, not loaded.
        edited = (
            not article.source_digest or services.article_digest(article) != article.source_digest
        )
        if edited and not force:
            self.stderr.write(
                f"kept {source.lang}/{source.slug}: edited after loading (use --force)"
            )
            return "kept"
        for name, value in wanted.items():
            setattr(article, name, value)
        article.category = category
        article.source_digest = digest
        services.save_article(article, actor=None, competences=linked, note="load_kb")
        return "updated"
