"""API v1 endpoints: the conversation, files, actions, directory, knowledge base, profile, sync."""

import datetime

import pytest
from django.utils import timezone

from tests.api.conftest import V1
from tickets import actions
from tickets.models import Attachment, Message, Ticket

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_reply_with_a_file_then_download_it(cast, make_ticket, token_for):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a)
    response = client.post(
        f"{V1}/tickets/{ticket.reference}/messages/",
        {"text": "Ето снимка на екрана.", "files": [upload("екран.png", PNG)]},
    )
    assert response.status_code == 201, response.content
    [attachment] = response.json()["attachments"]
    assert attachment["name"] == "екран.png" and attachment["content_type"] == "image/png"
    download = client.get(attachment["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PNG
    assert download["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "attachment" in download["Content-Disposition"]
    listed = client.get(f"{V1}/tickets/{ticket.reference}/attachments/").json()
    assert [a["id"] for a in listed] == [attachment["id"]]
    # Someone who may not see the ticket gets 404 for its file.
    other, _t, _s = token_for(cast.teacher_b)
    assert other.get(attachment["download_url"]).status_code == 404


def test_a_file_refused_by_content_is_a_400_and_nothing_is_written(cast, make_ticket, token_for):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a)
    response = client.post(
        f"{V1}/tickets/{ticket.reference}/messages/",
        {"text": "exe", "files": [upload("a.exe", b"MZ\x90\x00" + b"\x00" * 200)]},
    )
    assert response.status_code == 400 and "files" in response.json()["fields"]
    assert ticket.messages.count() == 1


def test_files_on_internal_notes_are_for_staff(cast, make_ticket, token_for):
    ticket = make_ticket()
    staff, _t, _s = token_for(cast.expert_x)
    response = staff.post(
        f"{V1}/tickets/{ticket.reference}/messages/",
        {"text": "бележка", "kind": "internal", "files": [upload("note.png", PNG)]},
    )
    assert response.status_code == 201, response.content
    file_id = response.json()["attachments"][0]["id"]
    teacher, _t, _s = token_for(cast.teacher_a)
    assert teacher.get(f"{V1}/attachments/{file_id}/download/").status_code == 404
    assert teacher.get(f"{V1}/tickets/{ticket.reference}/attachments/").json() == []
    kinds = [m["kind"] for m in teacher.get(f"{V1}/tickets/{ticket.reference}/messages/").json()]
    assert kinds == ["public"]
    assert staff.get(f"{V1}/attachments/{file_id}/download/").status_code == 200


def test_agent_actions(cast, make_ticket, token_for):
    ticket = make_ticket()
    other = make_ticket(subject="Същото")
    Ticket.objects.filter(pk=ticket.pk).update(assignee=None)
    client, _token, _secret = token_for(cast.expert_x2)
    url = f"{V1}/tickets/{ticket.reference}"
    taken = client.post(f"{url}/take/")
    assert taken.status_code == 200, taken.content
    assert taken.json()["assignee"] == str(cast.expert_x2)
    again = client.post(f"{url}/take/")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assigned = client.post(f"{url}/assign/", {"assignee": cast.expert_x.email}, "application/json")
    assert assigned.json()["assignee"] == str(cast.expert_x)
    nobody = client.post(f"{url}/assign/", {"assignee": "nobody@x.bg"}, "application/json")
    assert nobody.status_code == 400 and "assignee" in nobody.json()["fields"]
    patched = client.patch(url + "/", {"priority": "high"}, "application/json")
    assert patched.status_code == 200 and patched.json()["priority"] == "high"
    linked = client.post(f"{url}/link/", {"other": other.reference}, "application/json")
    assert linked.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).related.filter(pk=other.pk).exists()
    escalated = client.post(
        f"{url}/escalate/", {"tier": "central", "reason": "Грешка в системата"}, "application/json"
    )
    assert escalated.status_code == 200 and escalated.json()["tier"] == "central"
    merged = client.post(
        f"{V1}/tickets/{other.reference}/merge/", {"target": ticket.reference}, "application/json"
    )
    assert merged.status_code == 200, merged.content
    assert merged.json()["merged_into"] == ticket.reference
    status = client.post(f"{url}/status/", {"status": "resolved"}, "application/json")
    assert status.status_code == 200 and status.json()["status"] == "resolved"


def test_requesters_may_solve_and_rate_but_not_act(cast, make_ticket, token_for):
    ticket = make_ticket()
    client, _token, _secret = token_for(cast.teacher_a)
    url = f"{V1}/tickets/{ticket.reference}"
    detail = client.get(url + "/").json()
    assert detail["allowed_actions"] == ["reply", "solve"]
    assert client.post(f"{url}/take/").status_code == 403
    assert client.patch(url + "/", {"priority": "urgent"}, "application/json").status_code == 403
    waiting = client.post(f"{url}/status/", {"status": "waiting"}, "application/json")
    assert waiting.status_code == 403
    solved = client.post(f"{url}/status/", {"status": "resolved"}, "application/json")
    assert solved.status_code == 200
    rated = client.post(f"{url}/rate/", {"score": 5, "comment": "Бързо"}, "application/json")
    assert rated.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).satisfaction == 5


def test_directory_reads(cast, token_for):
    client, _token, _secret = token_for(cast.teacher_a)
    regions = client.get(f"{V1}/regions/").json()
    assert {"code": "22", "name": cast.region_x.name, "name_en": cast.region_x.name_en} in regions
    institutions = client.get(f"{V1}/institutions/", {"region": "22"}).json()["results"]
    assert [i["code"] for i in institutions] == ["2200777", "2206409"]
    assert client.get(f"{V1}/institutions/2206409/").json()["region"] == "22"
    assert client.get(f"{V1}/institutions/", {"q": "Ботев"}).json()["results"][0]["code"] == (
        "1600101"
    )
    codes = [c["code"] for c in client.get(f"{V1}/competences/").json()]
    assert "diplomas" in codes
    assert client.get(f"{V1}/competences/diplomas/").status_code == 200


def test_knowledge_base_reads_search_and_suggest(cast, token_for):
    from kb.models import Article
    from kb.services import index_article

    public = Article.objects.create(
        slug="diploma",
        title="Как да качим диплома",
        summary="Сканиране на дипломи",
        body="Дипломата се сканира в PDF.",
        status="published",
    )
    hidden = Article.objects.create(
        slug="agents-only",
        title="Диплома: вътрешни бележки",
        body="Само за експерти.",
        status="published",
        visibility="agents",
    )
    for article in (public, hidden):
        index_article(article)
    client, _token, _secret = token_for(cast.teacher_a)
    ids = [a["id"] for a in client.get(f"{V1}/kb/articles/").json()["results"]]
    assert ids == [public.pk]
    detail = client.get(f"{V1}/kb/articles/{public.pk}/").json()
    assert "<p>" in detail["body_html"] and detail["body"].startswith("Дипломата")
    assert client.get(f"{V1}/kb/articles/{hidden.pk}/").status_code == 404
    found = client.get(f"{V1}/kb/articles/search/", {"q": "дипломи"}).json()
    assert [h["id"] for h in found] == [public.pk]
    suggested = client.get(f"{V1}/kb/articles/suggest/", {"q": "Не мога да кача диплома"}).json()
    assert [s["id"] for s in suggested] == [public.pk]
    missing = client.get(f"{V1}/kb/articles/search/")
    assert missing.status_code == 400 and "q" in missing.json()["fields"]
    staff, _t, _s = token_for(cast.expert_x)
    found = {h["id"] for h in staff.get(f"{V1}/kb/articles/search/", {"q": "диплома"}).json()}
    assert found == {public.pk, hidden.pk}


def test_announcements_for_the_callers_region(cast, token_for):
    from kb.models import Announcement

    later = timezone.now() + datetime.timedelta(days=1)
    everyone = Announcement.objects.create(title="Профилактика", ends_at=later)
    plovdiv = Announcement.objects.create(title="Само Пловдив", ends_at=later)
    plovdiv.regions.set([cast.region_y])
    client, _token, _secret = token_for(cast.teacher_a)
    assert [a["id"] for a in client.get(f"{V1}/announcements/").json()] == [everyone.pk]
    client, _token, _secret = token_for(cast.teacher_b)
    assert {a["id"] for a in client.get(f"{V1}/announcements/").json()} == {
        everyone.pk,
        plovdiv.pk,
    }


def test_profile(cast, token_for):
    client, _token, _secret = token_for(cast.expert_x, scopes=["read"])
    me = client.get(f"{V1}/me/").json()
    assert me["is_agent"] is True and me["agent"] == {
        "tier": "regional",
        "kind": "expert",
        "region": "22",
    }
    assert me["scopes"] == ["read"]
    client, _token, _secret = token_for(cast.director_a)
    me = client.get(f"{V1}/me/").json()
    assert me["followed_institutions"] == ["2206409"] and me["memberships"][0]["role"] == "director"


def test_incremental_sync_with_updated_since_and_ordering(cast, make_ticket, token_for):
    old = make_ticket(subject="Стара")
    new = make_ticket(subject="Нова")
    since = timezone.now() - datetime.timedelta(minutes=5)
    Ticket.objects.filter(pk=old.pk).update(updated_at=since - datetime.timedelta(days=2))
    client, _token, _secret = token_for(cast.expert_x)
    body = client.get(f"{V1}/tickets/", {"updated_since": since.isoformat()}).json()
    assert [t["reference"] for t in body["results"]] == [new.reference]
    actions.add_message(ticket=old, actor=cast.expert_x, text="Отговор")
    body = client.get(
        f"{V1}/tickets/", {"updated_since": since.isoformat(), "ordering": "updated_at"}
    ).json()
    assert [t["reference"] for t in body["results"]] == [new.reference, old.reference]
    bad = client.get(f"{V1}/tickets/", {"updated_since": "вчера"})
    assert bad.status_code == 400 and "updated_since" in bad.json()["fields"]


@pytest.mark.parametrize("who", ["teacher_a", "expert_x"])
def test_list_query_count_does_not_grow_with_the_page(cast, make_ticket, token_for, who):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, _token, _secret = token_for(getattr(cast, who))

    def count(size):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{V1}/tickets/", {"page_size": size})
        assert len(response.json()["results"]) == size
        return len(queries)

    for n in range(22):
        ticket = make_ticket(actor=cast.teacher_a, subject=f"Заявка {n}")
        actions.add_message(ticket=ticket, actor=cast.expert_x, text="Отговор")
    count(1)  # the token's last-used time is written on the first request only
    assert count(20) == count(2)


def test_an_invisible_ticket_and_a_missing_one_look_the_same(cast, make_ticket, token_for):
    theirs = make_ticket(actor=cast.teacher_b, institution=cast.school_b)
    client, _token, _secret = token_for(cast.teacher_a)
    invisible = client.get(f"{V1}/tickets/{theirs.reference}/")
    missing = client.get(f"{V1}/tickets/99-999999/")
    assert invisible.status_code == missing.status_code == 404
    assert invisible.json() == missing.json()
    for path in ("messages/", "attachments/"):
        assert client.get(f"{V1}/tickets/{theirs.reference}/{path}").status_code == 404
    response = client.post(
        f"{V1}/tickets/{theirs.reference}/messages/", {"text": "x"}, "application/json"
    )
    assert response.status_code == 404
    assert Message.objects.filter(ticket=theirs).count() == 1
    assert Attachment.objects.count() == 0
