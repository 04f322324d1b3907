"""Similar requests of the same institution on the filing form; following one instead."""

import json

import pytest

from tickets.models import SimilarShown, Ticket, Watcher

URL = "/portal/similar/"
FOLLOW = "/portal/similar/follow/"
MOVED = "Липсват преместените ученици"


def ask(client, subject, institution, **extra):
    body = {"subject": subject, "institution": institution, **extra}
    return client.post(URL, json.dumps(body), content_type="application/json")


@pytest.fixture
def colleagues_request(make_ticket, cast):
    return make_ticket(actor=cast.teacher_a, subject=MOVED, text="Преместихме ги вчера.")


def test_shows_open_requests_of_the_institution_that_look_alike(
    client, cast, colleagues_request, make_ticket
):
    make_ticket(actor=cast.teacher_a, subject="Печат на диплома", text="Печатът е накриво.")
    client.force_login(cast.teacher_a_colleague)
    data = ask(client, "Учениците, които преместихме, липсват", cast.school_a.pk).json()
    assert [r["reference"] for r in data["requests"]] == [colleagues_request.reference]
    assert set(data["requests"][0]) == {"reference", "subject", "filed", "status"}
    record = SimilarShown.objects.get(token=data["token"])
    assert list(record.shown.all()) == [colleagues_request]


def test_other_institutions_and_own_requests_are_not_shown(client, cast, colleagues_request):
    client.force_login(cast.teacher_b)
    assert ask(client, MOVED, cast.school_b.pk).json()["requests"] == []
    client.force_login(cast.teacher_a)  # the requester is not offered their own request
    assert ask(client, MOVED, cast.school_a.pk).json()["requests"] == []


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"subject": "x", "institution": "abc"}', b'{"subject": "x"}'],
)
def test_bad_input_is_a_400(client, cast, body):
    client.force_login(cast.teacher_a)
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400


def test_an_institution_the_person_does_not_file_for_is_a_400(client, cast, colleagues_request):
    client.force_login(cast.teacher_b)
    assert ask(client, MOVED, cast.school_a.pk).status_code == 400


def test_following_adds_a_watcher_and_files_nothing(client, cast, colleagues_request):
    client.force_login(cast.teacher_a_colleague)
    token = ask(client, MOVED, cast.school_a.pk).json()["token"]
    before = Ticket.objects.count()
    response = client.post(
        FOLLOW, {"follow": colleagues_request.reference, "similar_token": token, "subject": "x"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/portal/requests/{colleagues_request.reference}/")
    assert Ticket.objects.count() == before
    watcher = Watcher.objects.get(ticket=colleagues_request)
    assert watcher.user == cast.teacher_a_colleague
    assert watcher.source == Watcher.Source.FOLLOW
    assert SimilarShown.objects.get(token=token).followed == colleagues_request
    assert client.get(response["Location"]).status_code == 200


def test_following_a_request_of_another_institution_is_a_404(client, cast, colleagues_request):
    client.force_login(cast.teacher_b)
    response = client.post(FOLLOW, {"follow": colleagues_request.reference})
    assert response.status_code == 404
    assert not Watcher.objects.exists()


def test_following_needs_a_post(client, cast, colleagues_request):
    client.force_login(cast.teacher_a_colleague)
    assert client.get(FOLLOW, {"follow": colleagues_request.reference}).status_code == 405


def test_filing_anyway_is_recorded(client, cast, colleagues_request):
    client.force_login(cast.teacher_a_colleague)
    token = ask(client, MOVED, cast.school_a.pk).json()["token"]
    response = client.post(
        "/portal/new/",
        {
            "institution": cast.school_a.pk,
            "competence": cast.diplomas.pk,
            "subject": MOVED,
            "description": "Нашите също липсват.",
            "similar_token": token,
        },
    )
    assert response.status_code == 302
    record = SimilarShown.objects.get(token=token)
    assert record.filed is not None and record.filed.requester == cast.teacher_a_colleague
