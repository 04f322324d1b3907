"""seed_demo: realistic demo data, one login per role, idempotent."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import AgentProfile, Institution, Membership, Region, Role, User
from tickets.models import Competence, Message, Status, Ticket

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
