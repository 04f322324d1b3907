"""An agent files for someone: who may, for whom, by which channel."""

import pytest

from helpdesk.errors import DomainError, NotAllowed
from tickets import actions
from tickets.models import OutboundMail, Ticket

pytestmark = pytest.mark.django_db


def file(cast, **kwargs):
    kwargs.setdefault("actor", cast.expert_x)
    kwargs.setdefault("channel", "phone")
    kwargs.setdefault("institution", cast.school_a)
    return actions.file_for_requester(subject="Обаждане", text="Не може да влезе.", **kwargs)


def test_a_person_of_the_institution_is_the_requester_and_is_acknowledged(cast):
    ticket = file(cast, requester=cast.teacher_a, channel="in_person")
    assert (ticket.requester, ticket.requester_email, ticket.channel) == (
        cast.teacher_a,
        cast.teacher_a.email,
        "in_person",
    )
    assert OutboundMail.objects.get(ticket=ticket).recipients == [cast.teacher_a.email]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"actor": "teacher_a", "requester": "teacher_a"}, NotAllowed),
        ({"requester": "teacher_b"}, DomainError),  # works elsewhere
        ({"requester": "expert_y"}, DomainError),  # support staff
        ({"requester": "teacher_a", "channel": "email"}, DomainError),
        ({"requester": "teacher_a", "channel": "portal"}, DomainError),
    ],
)
def test_refusals(cast, kwargs, error):
    for key in ("actor", "requester"):
        if key in kwargs:
            kwargs[key] = getattr(cast, kwargs[key])
    with pytest.raises(error):
        file(cast, **kwargs)
    assert not Ticket.objects.exists()


def test_a_deactivated_person_cannot_be_filed_for(cast):
    cast.teacher_a.is_active = False
    cast.teacher_a.save()
    with pytest.raises(DomainError):
        file(cast, requester=cast.teacher_a)
    assert not Ticket.objects.exists()
