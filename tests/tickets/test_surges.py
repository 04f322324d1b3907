"""Surge detection: a wave inside ordinary traffic raises one alert; its incident links newcomers."""

import datetime
import itertools

import pytest
from django.core import mail
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Institution
from helpdesk.errors import DomainError, NotAllowed
from tickets import actions, similarity, surges
from tickets.models import Channel, OutboundMail, SurgeAlert, Ticket, TicketSignature

# Ordinary traffic: many different problems, a few of them twice.
ORDINARY = [
    ("diplomas", "Сканираното изображение на дипломата се отхвърля"),
    ("diplomas", "Как да поправя грешно въведена дата в дипломата"),
    ("diplomas", "Удостоверението за завършен клас не се отпечатва"),
    ("delegation", "Как да делегирам права на заместник-директора"),
    ("delegation", "Делегирането на права изтече преди срока"),
    ("technical", "Страницата зарежда много бавно следобед"),
    ("technical", "Бутонът за експорт в Excel не прави нищо"),
    ("general", "Къде да подам заявление за нова учебна програма"),
    ("general", "Как се попълва справката за броя на паралелките"),
    ("login", "Забравена парола за служебния профил"),
    ("login", "Нов служител няма профил в edu.mon.bg"),
    ("technical", "Отсъствията не се записват в електронния дневник"),
    ("general", "Въпрос за срока на подаване на списък-образец"),
    ("diplomas", "Серията на бланката не се приема от системата"),
    ("delegation", "Оттегляне на правата на напуснал учител"),
]
# The wave: one problem, many words for it.
WAVE = [
    "Не мога да вляза в НЕИСПУО с профила в edu.mon.bg",
    "Профилът ми в edu.mon.bg не ме пуска да вляза в НЕИСПУО",
    "Не успявам да вляза в НЕИСПУО с edu.mon.bg профил",
    "Няма вход в НЕИСПУО с профил edu.mon.bg от тази сутрин",
    "НЕИСПУО: не мога да вляза с edu.mon.bg",
    "Вход с профил edu.mon.bg в НЕИСПУО не работи",
    "Не мога да влезна в НЕИСПУО, профилът edu.mon.bg дава грешка",
    "С профила от edu.mon.bg не мога да вляза в системата НЕИСПУО",
    "не мога да вляза в неиспуо с профила си edu.mon.bg",
    "Вход в НЕИСПУО с edu.mon.bg профил - не се получава",
    "Не мога да вляза в НЕИСПУО с профила в edu.mon.bg, моля помогнете",
    "Профил edu.mon.bg - не мога да вляза в НЕИСПУО",
]


@pytest.fixture
def schools(cast):
    return [
        Institution.objects.create(
            code=f"22{n:05d}", name=f"Училище {n}", region=cast.region_x if n % 2 else cast.region_y
        )
        for n in range(1, 21)
    ]


def file(cast, school, competence_code, subject, at, n):
    return actions.file_from_mail(
        sender=None,
        requester_email=f"teacher{n}@school{school.pk}.bg",
        institution=school,
        competence=cast.competences[competence_code],
        subject=subject,
        text="",
        now=at,
    )


def ordinary_day(cast, schools, start, count=45):
    """Requests spread over the hours before `start`, from many schools, on many problems."""
    problems = itertools.cycle(ORDINARY)
    spread = [start - datetime.timedelta(minutes=4 * i) for i in range(count)]
    for n, at in enumerate(spread):
        code, subject = next(problems)
        file(cast, schools[n % len(schools)], code, subject, at, n)


def wave(cast, schools, start, count=12):
    return [
        file(
            cast,
            schools[i % 8],
            "login",
            WAVE[i % len(WAVE)],
            start + datetime.timedelta(minutes=2 * i),
            100 + i,
        )
        for i in range(count)
    ]


def test_a_normal_day_raises_no_alert(cast, schools, now):
    ordinary_day(cast, schools, now)
    assert surges.detect(now=now) == []
    assert not SurgeAlert.objects.exists()


def test_a_surge_inside_ordinary_traffic_raises_exactly_one_alert(cast, schools, now):
    start = now - datetime.timedelta(minutes=30)
    ordinary_day(cast, schools, now)
    members = wave(cast, schools, start)
    new = surges.detect(now=now)
    assert len(new) == 1
    alert = new[0]
    assert set(alert.members.values_list("pk", flat=True)) == {t.pk for t in members}
    assert alert.institution_count == 8
    assert alert.competence == cast.competences["login"]
    assert set(alert.region_ids) == {cast.region_x.pk, cast.region_y.pk}
    # The next run (and the one after more requests) raises nothing new.
    assert surges.detect(now=now + datetime.timedelta(minutes=2)) == []
    file(cast, schools[9], "login", WAVE[0], now + datetime.timedelta(minutes=3), 999)
    assert surges.detect(now=now + datetime.timedelta(minutes=4)) == []
    assert SurgeAlert.objects.count() == 1
    assert SurgeAlert.objects.get().request_count == 13


def test_one_run_clusters_at_most_the_latest_requests_of_a_competence(
    cast, schools, now, monkeypatch
):
    """A burst of any size costs a run a bounded amount of work; the latest are linked."""
    monkeypatch.setattr(surges, "MAX_CLUSTERED", 10)
    members = wave(cast, schools, now - datetime.timedelta(minutes=40), count=14)
    new = surges.detect(now=now)
    assert len(new) == 1
    linked = set(new[0].members.values_list("pk", flat=True))
    assert linked == {t.pk for t in members[-10:]}


def test_a_cluster_under_the_institution_threshold_is_no_surge(cast, schools, now):
    for i in range(10):  # ten requests, but from two schools only
        file(cast, schools[i % 2], "login", WAVE[i], now - datetime.timedelta(minutes=i), i)
    assert surges.detect(now=now) == []


@override_settings(HELPDESK_SURGE={"login": {"requests": 20, "institutions": 5, "minutes": 60}})
def test_thresholds_are_per_competence(cast, schools, now):
    wave(cast, schools, now - datetime.timedelta(minutes=30))
    assert surges.detect(now=now) == []
    assert surges.threshold_for("login").requests == 20
    assert surges.threshold_for("diplomas").requests == surges.DEFAULT["requests"]


def test_a_dismissed_alert_stays_dismissed(cast, schools, now):
    wave(cast, schools, now - datetime.timedelta(minutes=30))
    (alert,) = surges.detect(now=now)
    actions.dismiss_surge(alert=alert, actor=cast.supervisor_x)
    file(cast, schools[3], "login", WAVE[1], now + datetime.timedelta(minutes=1), 500)
    assert surges.detect(now=now + datetime.timedelta(minutes=2)) == []
    alert.refresh_from_db()
    assert alert.state == SurgeAlert.State.DISMISSED
    assert surges.alerts_for(cast.supervisor_x) == []


def test_who_may_act_on_an_alert(cast, schools, now):
    wave(cast, schools[:8:2], now - datetime.timedelta(minutes=30), count=0)
    alert = SurgeAlert.objects.create(
        terms="вляз профил", label="x", region_ids=[cast.region_x.pk], first_at=now, last_at=now
    )
    assert surges.may_handle(cast.supervisor_x, alert)
    assert surges.may_handle(cast.supervisor_all, alert)
    assert surges.may_handle(cast.central, alert)
    assert not surges.may_handle(cast.expert_x, alert)
    assert not surges.may_handle(cast.teacher_a, alert)
    alert.region_ids = [cast.region_y.pk]
    assert not surges.may_handle(cast.supervisor_x, alert)
    with pytest.raises(NotAllowed):
        actions.dismiss_surge(alert=alert, actor=cast.supervisor_x)
    actions.dismiss_surge(alert=alert, actor=cast.supervisor_all)
    with pytest.raises(DomainError):
        actions.dismiss_surge(alert=alert, actor=cast.supervisor_all)


def test_after_the_incident_a_matching_request_is_linked_and_told_the_problem_is_known(
    cast, schools, now, django_capture_on_commit_callbacks
):
    members = wave(cast, schools, now - datetime.timedelta(minutes=30))
    (alert,) = surges.detect(now=now)
    incident, result = actions.open_surge_incident(
        alert=alert, actor=cast.supervisor_all, subject="Масов проблем с входа", text="Знаем."
    )
    assert incident.is_incident
    assert sorted(result.done) == sorted(t.reference for t in members)
    assert set(Ticket.objects.filter(parent=incident)) == set(members)
    url = "http://testserver/kb/announcements/7/"
    actions.set_surge_announcement(alert=alert, actor=cast.supervisor_all, url=url)
    alert.refresh_from_db()
    assert alert.state == SurgeAlert.State.INCIDENT and alert.incident == incident

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        newcomer = file(
            cast, schools[15], "login", "Не мога да вляза с профила в edu.mon.bg", now, 777
        )
        unrelated = file(
            cast, schools[15], "login", "Забравена парола за служебния профил", now, 778
        )
    newcomer.refresh_from_db()
    unrelated.refresh_from_db()
    assert newcomer.parent == incident
    assert unrelated.parent is None
    assert newcomer in alert.members.all()
    ack = OutboundMail.objects.get(ticket=newcomer, kind="created")
    sent = [m for m in mail.outbox if m.extra_headers.get("Message-ID") == f"<{ack.message_id}>"]
    assert len(sent) == 1
    assert url in sent[0].body
    assert url in sent[0].alternatives[0][0]
    other = [m for m in mail.outbox if unrelated.reference in m.subject]
    assert other and url not in other[0].body


def test_a_regional_supervisor_links_only_what_they_may_see(cast, schools, now):
    members = wave(cast, schools, now - datetime.timedelta(minutes=30))
    (alert,) = surges.detect(now=now)
    incident, result = actions.open_surge_incident(
        alert=alert, actor=cast.supervisor_x, subject="Вход", text="Знаем.", channel=Channel.CONSOLE
    )
    in_x = {t.reference for t in members if t.region_id == cast.region_x.pk}
    assert set(result.done) == in_x
    assert {ref for ref, _reason in result.failed} == {t.reference for t in members} - in_x


def test_the_question_asked_all_day_is_no_surge(cast, schools, now):
    # Ten an hour around the clock (bulk rows: the rate, not the filing, matters) ...
    login = cast.competences["login"]
    earlier = Ticket.objects.bulk_create(
        Ticket(
            reference=f"25-{n:06d}",
            channel=Channel.EMAIL,
            subject=WAVE[n % len(WAVE)],
            competence=login,
            institution=schools[n % 20],
            created_at=now - datetime.timedelta(minutes=60 + 6 * n),
        )
        for n in range(230)
    )
    TicketSignature.objects.bulk_create(
        TicketSignature(
            ticket=t,
            terms=" ".join(similarity.terms(t.subject)),
            competence=login,
            institution=t.institution,
            created_at=t.created_at,
        )
        for t in earlier
    )
    # ... and twelve in the last hour, a little above the usual ten: no wave.
    wave(cast, schools, now - datetime.timedelta(minutes=30))
    assert surges.detect(now=now) == []


# --- the incidents known without a query --------------------------------------------------


@pytest.fixture
def shared_cache(monkeypatch):
    """The version cache on, in a cache of this test's own (a parallel run's
    other workers clear the shared Redis database between their tests)."""
    monkeypatch.setattr(surges, "_shared_cache", lambda: True)
    monkeypatch.setattr(surges, "_known", None)
    monkeypatch.setattr(surges, "cache", LocMemCache("surges-test", {}))


def alert_reads(queries) -> int:
    return sum("tickets_surgealert" in q["sql"] for q in queries)


def test_without_an_incident_a_filing_reads_no_alert(cast, schools, now, shared_cache):
    file(cast, schools[0], "login", "Не мога да вляза с профила в edu.mon.bg", now, 1)
    with CaptureQueriesContext(connection) as queries:
        file(cast, schools[1], "login", "Не мога да вляза с профила в edu.mon.bg", now, 2)
    assert alert_reads(queries.captured_queries) == 0


def test_without_a_shared_cache_every_filing_asks(cast, schools, now, monkeypatch, settings):
    # A locmem cache is not seen by the other processes: the version cannot be
    # trusted there, and without a stamp file nothing else carries it.
    monkeypatch.setattr(surges, "_shared_cache", lambda: False)
    settings.HELPDESK_SURGES_STAMP_FILE = ""
    monkeypatch.setattr(surges, "_known", None)
    file(cast, schools[0], "login", "Не мога да вляза с профила в edu.mon.bg", now, 1)
    with CaptureQueriesContext(connection) as queries:
        file(cast, schools[1], "login", "Не мога да вляза с профила в edu.mon.bg", now, 2)
    assert alert_reads(queries.captured_queries) == 1


def test_a_new_incident_is_honoured_at_the_next_filing(
    cast, schools, now, shared_cache, django_capture_on_commit_callbacks
):
    members = wave(cast, schools, now - datetime.timedelta(minutes=30))
    assert surges.incidents_by_competence() == {}  # known: no incident anywhere
    (alert,) = surges.detect(now=now)
    version = surges.cache.get(surges._VERSION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        incident, _result = actions.open_surge_incident(
            alert=alert, actor=cast.supervisor_all, subject="Масов проблем с входа", text="Знаем."
        )
    assert surges.cache.get(surges._VERSION_KEY) != version  # changed again after the commit
    newcomer = file(cast, schools[15], "login", "Не мога да вляза с профила в edu.mon.bg", now, 7)
    newcomer.refresh_from_db()
    assert newcomer.parent == incident
    assert set(members) < set(alert.members.all())
    # Another competence has no incident: once the map is read again (the
    # link moved the alert's last_at on), its filings ask nothing.
    file(cast, schools[15], "diplomas", "Не мога да вляза с профила в edu.mon.bg", now, 8)
    with CaptureQueriesContext(connection) as queries:
        file(cast, schools[15], "diplomas", "Не мога да вляза с профила в edu.mon.bg", now, 9)
    assert alert_reads(queries.captured_queries) == 0


@pytest.fixture
def stamp_file(monkeypatch, settings, tmp_path):
    """No shared cache; the version in a stamp file, as the embedded default keeps it."""
    monkeypatch.setattr(surges, "_shared_cache", lambda: False)
    monkeypatch.setattr(surges, "_known", None)
    settings.HELPDESK_SURGES_STAMP_FILE = str(tmp_path / "surges.stamp")
    return tmp_path / "surges.stamp"


def test_a_stamp_file_carries_the_version_without_a_shared_cache(
    cast, schools, now, stamp_file, django_capture_on_commit_callbacks
):
    file(cast, schools[0], "login", "Не мога да вляза с профила в edu.mon.bg", now, 1)
    with CaptureQueriesContext(connection) as queries:
        file(cast, schools[1], "login", "Не мога да вляза с профила в edu.mon.bg", now, 2)
    assert alert_reads(queries.captured_queries) == 0
    wave(cast, schools, now - datetime.timedelta(minutes=30))
    (alert,) = surges.detect(now=now)
    before = stamp_file.read_text()
    with django_capture_on_commit_callbacks(execute=True):
        incident, _result = actions.open_surge_incident(
            alert=alert, actor=cast.supervisor_all, subject="Масов проблем с входа", text="Знаем."
        )
    assert stamp_file.read_text() != before
    # Another process's copy: what this one knew is of no use under the new token.
    surges._known = ("some older token", surges._known[1] if surges._known else 0.0, {})
    newcomer = file(cast, schools[15], "login", "Не мога да вляза с профила в edu.mon.bg", now, 7)
    newcomer.refresh_from_db()
    assert newcomer.parent == incident


SUBJECT = "Не мога да вляза в НЕИСПУО с профила в edu.mon.bg"


def test_an_incident_past_its_linking_time_is_not_asked_until_it_moves(
    cast, schools, now, shared_cache
):
    old = now - surges.LINK_FOR - datetime.timedelta(hours=1)
    incident = file(cast, schools[0], "login", "Масов проблем с входа", old, 1)
    Ticket.objects.filter(pk=incident.pk).update(is_incident=True)
    alert = SurgeAlert.objects.create(
        competence=cast.competences["login"],
        terms=" ".join(similarity.terms(SUBJECT)),
        label="x",
        first_at=old,
        last_at=old,
        state=SurgeAlert.State.INCIDENT,
        incident=incident,
    )
    subject = SUBJECT
    file(cast, schools[1], "login", subject, now, 2)  # reads the incidents once
    with CaptureQueriesContext(connection) as queries:
        late = file(cast, schools[2], "login", subject, now, 3)
    assert alert_reads(queries.captured_queries) == 0
    assert late.parent_id is None
    alert.last_at = now  # it moved on (e.g. detection grew it): asked, and linked
    alert.save()
    linked = file(cast, schools[3], "login", subject, now, 4)
    linked.refresh_from_db()
    assert linked.parent == incident


def test_only_a_cache_other_processes_see_carries_the_version(settings):
    expected = settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert surges._shared_cache() is expected
