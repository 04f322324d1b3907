"""Deflection: suggestions shown, opened, and requests filed anyway."""

import pytest

from kb import deflection
from kb.models import DeflectionRecord, SuggestedArticle

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(make_article):
    return make_article(title="Първа"), make_article(title="Втора")


def test_shown_suggestions_are_recorded(cast, two):
    first, second = two
    token = deflection.record_suggestions_shown(cast.teacher_a, [first.pk, second.pk], "диплома")
    record = DeflectionRecord.objects.get(token=token)
    assert (record.user, record.query, record.ticket) == (cast.teacher_a, "диплома", None)
    assert list(record.items.values_list("article_id", "position")) == [
        (first.pk, 0),
        (second.pk, 1),
    ]


def test_nothing_shown_records_nothing(cast):
    assert deflection.record_suggestions_shown(cast.teacher_a, [], "диплома") == ""
    assert DeflectionRecord.objects.count() == 0


def test_typing_on_adds_to_the_same_record(cast, two):
    first, second = two
    token = deflection.record_suggestions_shown(cast.teacher_a, [first.pk], "дипл")
    again = deflection.record_suggestions_shown(
        cast.teacher_a, [first.pk, second.pk], "диплома", token=token
    )
    assert again == token
    record = DeflectionRecord.objects.get()
    assert record.query == "диплома"
    assert record.items.count() == 2


def test_someone_elses_token_starts_a_new_record(cast, two):
    first, _second = two
    token = deflection.record_suggestions_shown(cast.teacher_a, [first.pk], "x")
    other = deflection.record_suggestions_shown(cast.teacher_b, [first.pk], "x", token=token)
    assert other != token
    assert DeflectionRecord.objects.count() == 2


def test_unknown_articles_are_skipped(cast, two):
    first, _second = two
    token = deflection.record_suggestions_shown(cast.teacher_a, [first.pk, 999999], "x")
    assert SuggestedArticle.objects.filter(record__token=token).count() == 1


def test_filed_anyway_links_the_request(cast, two, make_ticket):
    first, second = two
    token = deflection.record_suggestions_shown(cast.teacher_a, [first.pk, second.pk], "x")
    ticket = make_ticket()
    assert deflection.record_filed_anyway(token, ticket) is True
    record = DeflectionRecord.objects.get()
    assert record.ticket == ticket and record.filed_at is not None
    # Only once.
    assert deflection.record_filed_anyway(token, make_ticket()) is False
    assert DeflectionRecord.objects.get().ticket == ticket


def test_filed_anyway_ignores_unknown_and_foreign_tokens(cast, two, make_ticket):
    first, _second = two
    assert deflection.record_filed_anyway("", make_ticket()) is False
    assert deflection.record_filed_anyway("nope", make_ticket()) is False
    token = deflection.record_suggestions_shown(cast.teacher_b, [first.pk], "x")
    assert deflection.record_filed_anyway(token, make_ticket(actor=cast.teacher_a)) is False


def test_clicks_are_recorded_once_and_only_for_suggested_articles(cast, two):
    first, second = two
    token = deflection.record_suggestions_shown(cast.teacher_a, [first.pk], "x")
    assert deflection.record_suggestion_clicked(token, first.pk) is True
    assert deflection.record_suggestion_clicked(token, first.pk) is False
    assert deflection.record_suggestion_clicked(token, second.pk) is False
    assert deflection.record_suggestion_clicked("", first.pk) is False


def test_article_figures(cast, two, make_ticket):
    from kb import services

    first, second = two
    for person in (cast.teacher_a, cast.teacher_a_colleague, cast.director_a):
        token = deflection.record_suggestions_shown(person, [first.pk, second.pk], "x")
        if person == cast.teacher_a:
            deflection.record_suggestion_clicked(token, first.pk)
        if person != cast.director_a:
            deflection.record_filed_anyway(token, make_ticket(actor=person))
    services.record_feedback(first, user=cast.teacher_a, helpful=True)
    services.record_feedback(first, user=cast.director_a, helpful=False)
    services.record_feedback(first, user=None, helpful=True)
    services.record_view(first)

    figures = deflection.article_figures()
    f = figures[first.pk]
    assert (f.views, f.helpful, f.not_helpful, f.shown, f.clicked, f.filed_anyway) == (
        1,
        2,
        1,
        3,
        1,
        2,
    )
    assert f.helpful_rate == pytest.approx(2 / 3)
    assert f.filed_anyway_rate == pytest.approx(2 / 3)
    assert f.click_rate == pytest.approx(1 / 3)
    s = figures[second.pk]
    assert (s.shown, s.clicked, s.filed_anyway, s.helpful_rate) == (3, 0, 2, None)


def test_failing_articles(cast, two):
    from kb import services

    first, second = two
    for _n in range(3):
        services.record_feedback(first, user=None, helpful=False)
    services.record_feedback(second, user=None, helpful=True)
    failing = deflection.failing_articles()
    assert [article.pk for article, _f in failing] == [first.pk]
