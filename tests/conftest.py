"""Shared test set-up: settings for tests and a fixed cast of people.

The cast follows STYLE.md: a director and a teacher of school A, a teacher of
school B (another region), an expert of region X with competence C, an expert
of region Y, central support, supervisors and an outsider who must see nothing.
"""

import datetime
import os

import pytest

os.environ.setdefault("HELPDESK_TESTING", "true")
# The suite's mails carry no Authentication-Results; the tests of sender
# authentication (tests/mailbridge/test_sender_auth.py) turn it on.
os.environ.setdefault("HELPDESK_MAIL_SENDER_AUTH", "off")

# Property tests check results, never timings: a shared, loaded machine made
# Hypothesis's default 200 ms deadline per example fail a correct test (and
# its "too slow" health check is a timing too).
from hypothesis import HealthCheck as _HealthCheck
from hypothesis import settings as _hypothesis_settings

_hypothesis_settings.register_profile(
    "helpdesk", deadline=None, suppress_health_check=[_HealthCheck.too_slow]
)
_hypothesis_settings.load_profile("helpdesk")


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "uploads"), "base_url": None},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SECURE_SSL_REDIRECT = False
    settings.HELPDESK = {**settings.HELPDESK, "MAIL_SENDER_AUTH": "off"}
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    from helpdesk.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    from django.core.cache import cache

    cache.clear()
    from tickets import assignment, fields, sla

    sla.clear_caches()
    assignment.clear_caches()
    fields.clear_caches()
    _usable_broker_pool(app)
    yield


def _usable_broker_pool(app):
    """Never start a test on a broker pool an earlier test closed.

    celery's ``app.pool`` is kombu's process-wide pool for one broker URL; a
    test that points celery at a dead broker and closes its pools afterwards
    must not leave a closed pool behind for whichever test the process runs
    next ("Acquire on closed pool" on every task it sends, even eager ones).
    """
    from kombu import pools

    pool, producers = app._pool, app.amqp._producer_pool
    closed = pool is not None and pool._closed
    if producers is not None:
        closed = closed or producers._closed or producers.connections._closed
    if closed:
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None


class Cast:
    """The fixed people and places of the tests, built once per test."""


@pytest.fixture
def cast(db):
    from accounts.models import AgentProfile, Institution, Membership, Role, User
    from accounts.regions import ensure_regions
    from tickets.catalogue import ensure_competences

    c = Cast()
    regions = ensure_regions()
    c.region_x = regions["22"]  # София-град
    c.region_y = regions["16"]  # Пловдив
    c.competences = ensure_competences()
    c.diplomas = c.competences["diplomas"]
    c.technical = c.competences["technical"]
    c.school_a = Institution.objects.create(code="2206409", name="138 СУ", region=c.region_x)
    c.school_a2 = Institution.objects.create(code="2200777", name="ДГ Слънце", region=c.region_x)
    c.school_b = Institution.objects.create(
        code="1600101", name="ОУ Христо Ботев", region=c.region_y
    )

    def person(email, name="", **extra):
        return User.objects.create_user(
            email=email, password="pw-Secret-123", full_name=name, **extra
        )

    c.director_a = person("director.a@edu.mon.bg", "Директор А")
    c.deputy_a = person("deputy.a@edu.mon.bg", "Заместник А")
    c.ict_a = person("ict.a@edu.mon.bg", "ИКТ А")
    c.teacher_a = person("teacher.a@edu.mon.bg", "Учител А")
    c.teacher_a_colleague = person("teacher2.a@edu.mon.bg", "Учител А2")
    c.secretary_a = person("secretary.a@edu.mon.bg", "Секретар А")
    c.teacher_b = person("teacher.b@edu.mon.bg", "Учител Б")
    c.director_b = person("director.b@edu.mon.bg", "Директор Б")
    for user, school, role in [
        (c.director_a, c.school_a, Role.DIRECTOR),
        (c.deputy_a, c.school_a, Role.DEPUTY_DIRECTOR),
        (c.ict_a, c.school_a, Role.ICT_LEAD),
        (c.teacher_a, c.school_a, Role.TEACHER),
        (c.teacher_a_colleague, c.school_a, Role.TEACHER),
        (c.secretary_a, c.school_a, Role.SECRETARY),
        (c.teacher_b, c.school_b, Role.TEACHER),
        (c.director_b, c.school_b, Role.DIRECTOR),
    ]:
        Membership.objects.create(user=user, institution=school, role=role)

    def agent(email, name, **profile):
        competences = profile.pop("competences", [])
        user = person(email, name)
        p = AgentProfile.objects.create(user=user, **profile)
        p.competences.set(competences)
        return user

    c.expert_x = agent(
        "expert.x@ruo.bg",
        "Експерт X",
        tier="regional",
        region=c.region_x,
        competences=[c.diplomas, c.competences["general"]],
        capacity=10,
    )
    c.expert_x2 = agent(
        "expert.x2@ruo.bg",
        "Експерт X2",
        tier="regional",
        region=c.region_x,
        competences=[c.competences["login"], c.competences["delegation"]],
        capacity=10,
    )
    c.expert_y = agent(
        "expert.y@ruo.bg",
        "Експерт Y",
        tier="regional",
        region=c.region_y,
        competences=list(c.competences.values()),
        capacity=10,
    )
    c.central = agent(
        "central@mon.bg",
        "Централна поддръжка",
        tier="central",
        competences=[c.technical],
        capacity=20,
    )
    c.supervisor_x = agent(
        "supervisor.x@ruo.bg", "Началник X", tier="regional", kind="supervisor", region=c.region_x
    )
    c.supervisor_all = agent("supervisor@mon.bg", "Координатор", tier="central", kind="supervisor")
    c.admin = User.objects.create_superuser(email="admin@mon.bg", password="pw-Secret-123")
    c.outsider = person("outsider@example.com", "Външен")
    return c


@pytest.fixture
def now():
    from django.utils import timezone

    return timezone.now()


@pytest.fixture
def make_ticket(cast):
    """Create a ticket through the one write path; defaults to teacher A, diplomas."""
    from tickets import actions

    def make(**kwargs):
        kwargs.setdefault("actor", cast.teacher_a)
        kwargs.setdefault("institution", cast.school_a)
        kwargs.setdefault("competence", cast.diplomas)
        kwargs.setdefault("subject", "Диплома не се качва")
        kwargs.setdefault("text", "Сканираното изображение на дипломата се отхвърля.")
        kwargs.setdefault("channel", "portal")
        return actions.create_ticket(**kwargs)

    return make


def days(n):
    return datetime.timedelta(days=n)
