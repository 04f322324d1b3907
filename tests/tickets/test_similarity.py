"""The similarity core: signatures, scores, ranking, clustering; and the candidate query."""

import datetime

import pytest

from tickets import actions, similarity
from tickets.models import Status, Ticket, TicketSignature
from tickets.similarity import THRESHOLD, score, terms

LOGIN = "Не мога да вляза в НЕИСПУО с профила си в edu.mon.bg"
MOVED = "Липсват преместените ученици"
DELEGATE = "Как да делегирам права на заместник-директор"
GRADES = "Грешка при записване на оценки в дневника"


def similar(a: str, b: str) -> float:
    return score(terms(a), terms(b))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # inflections
        (MOVED, "Учениците, които преместихме, липсват в списъка"),
        (DELEGATE, "Делегиране на права на заместник директора"),
        (GRADES, "Не се записват оценките в електронния дневник"),
        # word order
        (MOVED, "преместени ученици липсват"),
        (LOGIN, "С профил в edu.mon.bg не мога да вляза в НЕИСПУО"),
        # typos
        (DELEGATE, "Как да делегирм прва на заместник директора"),
        (MOVED, "Липсвт преместенте учиници"),
        # mail noise: greeting, signature, a quoted earlier mail
        (
            LOGIN,
            "Здравейте,\nне мога да вляза с профила в edu.mon.bg в НЕИСПУО.\n"
            "Поздрави,\n-- \nИван Петров, 138 СУ, тел. 0888123456\n> Уважаеми колеги, дипломи",
        ),
    ],
)
def test_the_same_problem_in_other_words_is_similar(first, second):
    assert similar(first, second) >= THRESHOLD


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # shared generic words, a different problem
        ("Не мога да вляза в НЕИСПУО", "Не мога да отпечатам удостоверение в НЕИСПУО"),
        (MOVED, "Грешка при печат на диплома за ученици"),
        (GRADES, "Грешка при записване на отсъствия в училище"),
        (DELEGATE, "Как да сменя паролата на директора"),
        (LOGIN, "Проблем с модула за стипендии в системата"),
    ],
)
def test_a_different_problem_with_shared_words_scores_low(first, second):
    assert similar(first, second) < THRESHOLD


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Липсват преместените ученици", ("липсв", "преместен", "ученик")),
        ("Здравейте, моля за помощ!", ()),
        ("ЕГН 7523169263 на ученика", ("ученик",)),
        ("", ()),
    ],
)
def test_terms_are_content_stems_without_egn_or_politeness(text, expected):
    assert terms(text) == expected


def test_terms_cut_quoted_lines_and_signatures():
    got = terms("Оценки", "дневник\n> диплома\n-- \nпечат")
    assert got == ("оценк", "дневник")


def test_score_is_symmetric_and_bounded():
    a, b = terms(MOVED), terms("Учениците, които преместихме, липсват")
    assert score(a, b) == score(b, a)
    assert score(a, a) == 1.0
    assert score(a, ()) == 0.0


def test_rank_orders_best_first_and_drops_weak_candidates():
    candidates = [
        (1, terms("Грешка при печат на диплома")),
        (2, terms("Липсват учениците, преместени от друго училище")),
        (3, terms(MOVED)),
    ]
    ranked = similarity.rank(terms(MOVED), candidates)
    assert [key for key, _score in ranked] == [3, 2]


def test_cluster_groups_paraphrases_and_leaves_others_alone():
    items = [
        (1, terms(LOGIN)),
        (2, terms(GRADES)),
        (3, terms("Профилът ми в edu.mon.bg не ме пуска да вляза в НЕИСПУО")),
        (4, terms("Не мога да вляза с edu.mon.bg профила")),
        (5, terms(DELEGATE)),
    ]
    groups = similarity.cluster(items)
    assert [1, 3, 4] in groups
    assert [2] in groups and [5] in groups


def test_cluster_scores_only_clusters_that_share_a_word(monkeypatch):
    """Unrelated requests cost no comparisons: the work does not grow with their square."""
    calls = []
    real_score = similarity.score

    def counting(a, b):
        calls.append(b.terms)
        return real_score(a, b)

    monkeypatch.setattr(similarity, "score", counting)
    unrelated = [(n, (f"{n:04d}abx", f"{n:04d}zzq")) for n in range(300)]
    groups = similarity.cluster(unrelated)
    assert len(groups) == 300 and not calls
    # A request sharing a word with one of them is scored against that one only.
    groups = similarity.cluster([*unrelated, (999, ("0007abx", "0007zzq"))])
    assert [7, 999] in groups and set(calls) == {("0007abx", "0007zzq")}


def test_cluster_with_the_word_index_groups_as_comparing_with_every_cluster():
    """The index only skips clusters that could not have matched."""
    texts = [LOGIN, GRADES, DELEGATE] * 3 + [
        "Профилът ми в edu.mon.bg не ме пуска да вляза в НЕИСПУО",
        "Не мога да вляза с edu.mon.bg профила",
        "Оценките на 5а клас не се виждат в дневника",
    ]
    items = [(n, terms(text)) for n, text in enumerate(texts)]

    def by_brute_force():
        clusters = []
        for key, signature in items:
            best, best_score = None, similarity.THRESHOLD
            for group in clusters:
                value = max(similarity.score(signature, other) for _k, other in group)
                if value >= best_score:
                    best, best_score = group, value
            if best is None:
                clusters.append([(key, signature)])
            else:
                best.append((key, signature))
        return [[key for key, _s in group] for group in clusters]

    assert similarity.cluster(items) == by_brute_force()


# --- with the database -------------------------------------------------------------


def test_filing_stores_the_signature(make_ticket, cast):
    ticket = make_ticket(subject=MOVED, text="Преместихме ги вчера, ЕГН 7523169263.")
    row = TicketSignature.objects.get(ticket=ticket)
    assert row.terms.split()[:3] == ["липсв", "преместен", "ученик"]
    assert "7523169263" not in row.terms
    assert row.competence_id == cast.diplomas.pk
    assert row.institution_id == cast.school_a.pk


def test_similar_to_text_finds_open_requests_of_the_institution(make_ticket, cast):
    wanted = make_ticket(subject=MOVED, text="От 1 септември.")
    make_ticket(subject="Грешка при печат на диплома", text="Печатът излиза накриво.")
    make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject=MOVED, text="Същото.")
    found = similarity.similar_to_text(
        "Преместените ученици липсват",
        "",
        within=Ticket.objects.filter(institution=cast.school_a),
        institution_id=cast.school_a.pk,
        open_only=True,
    )
    assert [s.ticket.pk for s in found] == [wanted.pk]


def test_similar_to_ticket_lists_only_what_the_user_may_see(make_ticket, cast):
    mine = make_ticket(subject=MOVED)
    other_region = make_ticket(actor=cast.teacher_b, institution=cast.school_b, subject=MOVED)
    query = make_ticket(subject="Преместени ученици липсват в списъка")
    seen_by_x = {s.ticket.pk for s in similarity.similar_to_ticket(query, user=cast.expert_x)}
    seen_by_central = {
        s.ticket.pk for s in similarity.similar_to_ticket(query, user=cast.supervisor_all)
    }
    assert mine.pk in seen_by_x and other_region.pk not in seen_by_x
    assert {mine.pk, other_region.pk} <= seen_by_central
    assert query.pk not in seen_by_central


def test_candidates_skip_old_and_merged_requests(make_ticket, cast, now):
    old = make_ticket(subject=MOVED, now=now - datetime.timedelta(days=200))
    duplicate = make_ticket(subject=MOVED)
    target = make_ticket(subject=MOVED)
    actions.merge(source=duplicate, target=target, actor=cast.expert_x)
    ids = {pk for pk, _terms in similarity.candidates(competence_id=cast.diplomas.pk)}
    assert target.pk in ids
    assert old.pk not in ids and duplicate.pk not in ids


def test_resolved_requests_are_candidates_unless_open_only(make_ticket, cast):
    done = make_ticket(subject=MOVED)
    actions.change_status(ticket=done, actor=cast.expert_x, status=Status.RESOLVED)
    assert done.pk in {pk for pk, _t in similarity.candidates()}
    assert done.pk not in {pk for pk, _t in similarity.candidates(open_only=True)}


def test_changing_the_competence_moves_the_signature(make_ticket, cast):
    ticket = make_ticket(subject=MOVED)
    actions.change_competence(ticket=ticket, actor=cast.expert_x, competence=cast.technical)
    assert TicketSignature.objects.get(ticket=ticket).competence_id == cast.technical.pk


def test_the_command_fills_missing_signatures(make_ticket):
    from django.core.management import call_command

    ticket = make_ticket(subject=MOVED)
    TicketSignature.objects.all().delete()
    call_command("similarity_index")
    assert TicketSignature.objects.get(ticket=ticket).terms.startswith("липсв ")
