"""Knowledge-base fixtures: the real seed content, and small articles made to order."""

import pytest
from django.core.management import call_command


@pytest.fixture
def kb_content(db):
    """Load kb/content through load_kb; return {(language, slug): Article}."""
    from kb.models import Article

    call_command("load_kb", verbosity=0)
    return {(a.language, a.slug): a for a in Article.objects.all()}


@pytest.fixture
def make_article(db):
    """Create an article through kb.services (published and public by default)."""
    from kb import services

    counter = iter(range(1, 10_000))

    def make(**kwargs):
        number = next(counter)
        kwargs.setdefault("actor", None)
        kwargs.setdefault("language", "bg")
        kwargs.setdefault("slug", f"test-article-{number}")
        kwargs.setdefault("title", f"Тестова статия {number}")
        kwargs.setdefault("summary", "Кратко резюме.")
        kwargs.setdefault("body", "Текст на статията.")
        kwargs.setdefault("visibility", "public")
        kwargs.setdefault("status", "published")
        return services.create_article(**kwargs)

    return make


def login(client, user):
    client.force_login(user)
    return client
