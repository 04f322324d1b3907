"""The data migration 0009: copied addresses (Ticket.cc_emails) become watchers, and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("tickets", "0008_watchers")]
AFTER = [("tickets", "0009_channels_people")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps():
    apps = migrate(BEFORE)
    yield apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _ticket(apps, reference, *, requester=None, requester_email="", cc=()):
    Ticket = apps.get_model("tickets", "Ticket")
    return Ticket.objects.create(
        reference=reference,
        requester=requester,
        requester_email=requester_email,
        cc_emails=list(cc),
        channel="email",
        subject="Тема",
    )


def test_copies_become_watchers_people_by_their_account(old_apps):
    User = old_apps.get_model("accounts", "User")
    teacher = User.objects.create(email="teacher@school.bg", full_name="Учител")
    director = User.objects.create(email="director@school.bg", full_name="Директор")
    gone = User.objects.create(email="gone@school.bg", is_active=False)
    one = _ticket(
        old_apps,
        "26-000001",
        requester=teacher,
        requester_email="teacher@school.bg",
        cc=["Director@School.bg", "parent@example.org", "TEACHER@school.bg", "parent@example.org"],
    )
    two = _ticket(
        old_apps,
        "26-000002",
        requester_email="caller@example.org",
        cc=["caller@example.org", "gone@school.bg", "", "not an address"],
    )
    _ticket(old_apps, "26-000003", requester_email="x@example.org")

    new_apps = migrate(AFTER)
    Watcher = new_apps.get_model("tickets", "Watcher")
    rows = {(w.ticket_id, w.user_id, w.email, w.source) for w in Watcher.objects.all()}
    assert rows == {
        (one.pk, director.pk, "", "mail"),
        (one.pk, None, "parent@example.org", "mail"),
        # An inactive account's address stays a bare address.
        (two.pk, None, "gone@school.bg", "mail"),
    }
    assert gone.pk not in {w.user_id for w in Watcher.objects.all()}
    Ticket = new_apps.get_model("tickets", "Ticket")
    assert "cc_emails" not in {f.name for f in Ticket._meta.get_fields()}

    # Back again: the addresses return to the list they came from.
    back = migrate(BEFORE)
    OldTicket = back.get_model("tickets", "Ticket")
    assert OldTicket.objects.get(pk=one.pk).cc_emails == [
        "director@school.bg",
        "parent@example.org",
    ]
    assert OldTicket.objects.get(pk=two.pk).cc_emails == ["gone@school.bg"]
    assert not back.get_model("tickets", "Watcher").objects.exists()
