"""seed_demo: realistic demo data, one login per role, idempotent."""

import datetime
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import AgentProfile, Institution, Membership, Region, Role, User
from tickets.models import OPEN_STATUSES, Competence, Message, Status, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

README = Path(__file__).resolve().parent.parent / "README.md"
PASSWORD = "demo12345"


def seed():
    call_command("seed_demo", tickets=60, institutions=40, verbosity=0, stdout=_Null())


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass


def row_counts():
    """Rows of every model of the project's own apps."""
    return {
        model._meta.label: model.objects.count()
        for app in ("accounts", "tickets", "mailbridge", "kb")
        for model in apps.get_app_config(app).get_models()
    }


@pytest.fixture
def seeded(db):
    seed()
    return row_counts()


def test_running_twice_creates_nothing_new(seeded):
    seed()
    assert row_counts() == seeded


def test_demo_content(seeded):
    # One seeding for all content checks: seeding takes seconds.
    check_the_organisation_is_complete()
    check_tickets_exist_in_every_status_with_conversations()
    check_every_role_has_a_demo_login()
    check_demo_agents_hold_competences_and_regions()
    check_every_demo_expert_has_a_queue()
    check_most_requests_are_on_time_and_a_few_late()
    check_most_open_requests_have_an_assignee()
    check_the_dates_look_like_recent_work()


def check_the_organisation_is_complete():
    assert Region.objects.count() == 28
    assert Institution.objects.count() == 40
    assert Competence.objects.filter(tier="central").exists()
    assert all(
        re.fullmatch(r"\d{7}", c) for c in Institution.objects.values_list("code", flat=True)
    )
    assert set(Institution.objects.values_list("kind", flat=True)) >= {"school", "kindergarten"}


def check_tickets_exist_in_every_status_with_conversations():
    assert Ticket.objects.count() == 60
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert statuses == set(Status.values)
    assert Message.objects.filter(from_staff=True).exists()
    assert Message.objects.filter(kind="internal").exists()
    answered = Ticket.objects.exclude(status="new")
    assert all(t.messages.count() >= 2 for t in answered)
    assert Ticket.objects.filter(channel="email").exists()


def readme_logins() -> dict[str, str]:
    """Return {role description: login} from the README's demo table."""
    rows = re.findall(r"^\| ([^|]+?) \| `([^`]+)` \|$", README.read_text(), re.MULTILINE)
    return {role: login for role, login in rows}


def check_every_role_has_a_demo_login():
    logins = readme_logins()
    assert logins, "README lists the demo logins"
    for role, email in logins.items():
        user = authenticate(email=email, password=PASSWORD)
        assert user is not None, f"{role}: {email} cannot log in with {PASSWORD}"

    def member(role):
        return Membership.objects.filter(role=role, user__email__in=logins.values()).exists()

    assert all(member(role) for role in Role.values), "a login for every institution role"
    agents = AgentProfile.objects.filter(user__email__in=logins.values())
    assert agents.filter(tier="regional", kind="expert").exists()
    assert agents.filter(tier="central", kind="expert").exists()
    assert agents.filter(kind="supervisor", region__isnull=False).exists()
    assert agents.filter(kind="supervisor", region__isnull=True).exists()
    assert User.objects.filter(email__in=logins.values(), is_superuser=True).exists()


def check_demo_agents_hold_competences_and_regions():
    for profile in AgentProfile.objects.filter(kind="expert"):
        assert profile.competences.exists(), profile
        profile.full_clean()
    assert AgentProfile.objects.filter(region__code="22", kind="expert").count() >= 2


# --- a working week (issue 17: the demo looked broken) ------------------------------


def check_every_demo_expert_has_a_queue():
    for profile in AgentProfile.objects.filter(kind="expert").select_related("user"):
        mine = Ticket.objects.filter(assignee=profile.user, status__in=OPEN_STATUSES)
        assert mine.exists(), f"{profile.user.email} has an empty queue"


def check_most_requests_are_on_time_and_a_few_late():
    now = timezone.now()
    # Waiting on the requester stops the clock; new and open requests run it.
    running = Ticket.objects.filter(status__in=(Status.NEW, Status.OPEN))
    late = running.filter(
        Q(resolution_due__lt=now) | Q(first_response_at__isnull=True, first_response_due__lt=now)
    ).count()
    assert running.count() >= 10
    assert late <= 0.2 * running.count(), f"{late} of {running.count()} open requests overdue"
    done = Ticket.objects.filter(status__in=(Status.RESOLVED, Status.CLOSED))
    resolved_late = done.filter(resolved_at__gt=F("resolution_due")).count()
    assert resolved_late <= 0.2 * done.count()
    assert late + resolved_late >= 1, "a few requests are late, as in any real week"
    answered = Ticket.objects.filter(first_response_at__isnull=False)
    assert not answered.filter(first_response_at__gt=F("first_response_due")).count() > (
        0.2 * answered.count()
    )


def check_most_open_requests_have_an_assignee():
    open_requests = Ticket.objects.filter(status__in=OPEN_STATUSES)
    assigned = open_requests.filter(assignee__isnull=False).count()
    assert assigned >= 0.75 * open_requests.count(), f"{assigned} of {open_requests.count()}"


def check_the_dates_look_like_recent_work():
    now = timezone.now()
    assert not Ticket.objects.filter(created_at__gt=now).exists()
    assert not Ticket.objects.filter(created_at__lt=now - datetime.timedelta(days=45)).exists()
    # Filed in the order they happened: references follow the dates.
    by_reference = list(Ticket.objects.order_by("reference").values_list("created_at", flat=True))
    assert by_reference == sorted(by_reference)
