"""sitemap.xml: the public, published articles (nothing a visitor could not open)."""

from django.contrib.sitemaps import Sitemap

from kb.models import Article


class ArticleSitemap(Sitemap):
    changefreq = "monthly"
    priority = 0.6

    def items(self):
        return Article.objects.visible_to(None).order_by("language", "slug")

    def lastmod(self, article):
        return article.updated_at


sitemaps = {"kb": ArticleSitemap}
