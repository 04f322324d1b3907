"""Announcement banners: period, regions, portal/console, dismissal."""

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from kb.announcements import announcements_for
from kb.models import Announcement

pytestmark = pytest.mark.django_db


def make(**kwargs):
    now = timezone.now()
    regions = kwargs.pop("regions", [])
    kwargs.setdefault("title", "Кампания")
    kwargs.setdefault("text", "1–10 януари: старият регистър е само за четене.")
    kwargs.setdefault("starts_at", now - datetime.timedelta(hours=1))
    kwargs.setdefault("ends_at", now + datetime.timedelta(days=1))
    announcement = Announcement.objects.create(**kwargs)
    announcement.regions.set(regions)
    return announcement


def titles(user, place="portal"):
    return [item.title for item in announcements_for(user, place)]


def test_active_announcement_for_all_regions(cast):
    make(title="За всички")
    for user in (AnonymousUser(), cast.teacher_a, cast.teacher_b, cast.expert_x):
        assert titles(user) == ["За всички"]


def test_period_is_respected(cast):
    now = timezone.now()
    make(title="Минала", starts_at=now - datetime.timedelta(days=3), ends_at=now)
    make(title="Бъдеща", starts_at=now + datetime.timedelta(hours=1))
    assert titles(cast.teacher_a) == []


def test_regional_announcement(cast):
    make(title="София", regions=[cast.region_x])
    assert titles(cast.teacher_a) == ["София"]
    assert titles(cast.expert_x) == ["София"]
    assert titles(cast.teacher_b) == []
    assert titles(cast.expert_y) == []
    assert titles(AnonymousUser()) == []
    # Central support, national supervisors and administrators see every region's.
    assert titles(cast.central) == ["София"]
    assert titles(cast.supervisor_all) == ["София"]
    assert titles(cast.admin) == ["София"]


def test_portal_and_console(cast):
    make(title="Портал")
    make(title="Конзола", show_on_portal=False, show_on_console=True)
    assert titles(cast.expert_x, "portal") == ["Портал"]
    assert titles(cast.expert_x, "console") == ["Конзола"]


def test_article_link_only_when_readable(cast, make_article):
    public = make_article(title="Указания")
    hidden = make_article(visibility="agents")
    make(title="С връзка", article=public, link_text="Прочетете указанията")
    make(title="Със скрита връзка", article=hidden)
    items = {item.title: item for item in announcements_for(cast.teacher_a)}
    assert items["С връзка"].article_url == public.get_absolute_url()
    assert items["С връзка"].link_text == "Прочетете указанията"
    assert items["Със скрита връзка"].article_url == ""
    expert_items = {item.title: item for item in announcements_for(cast.expert_x)}
    assert expert_items["Със скрита връзка"].article_url == hidden.get_absolute_url()


def test_banner_on_pages_and_dismissal(client, cast):
    announcement = make(title="Прекъсване на услугата")
    client.force_login(cast.teacher_a)
    page = client.get(reverse("kb:index")).content.decode()
    assert f'data-announcement="{announcement.pk}"' in page
    response = client.post(
        reverse("kb:announcement_dismiss", args=[announcement.pk]), HTTP_REFERER="/kb/"
    )
    assert response.status_code == 302 and response["Location"] == "/kb/"
    assert "Прекъсване на услугата" not in client.get(reverse("kb:index")).content.decode()
    # Only for that person.
    client.force_login(cast.teacher_a_colleague)
    assert "Прекъсване на услугата" in client.get(reverse("kb:index")).content.decode()


def test_dismissal_needs_login_and_post_and_a_safe_redirect(client, cast):
    announcement = make()
    url = reverse("kb:announcement_dismiss", args=[announcement.pk])
    assert client.post(url).status_code == 302
    assert announcement.dismissals.count() == 0
    client.force_login(cast.teacher_a)
    assert client.get(url).status_code == 405
    response = client.post(url, {"next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert announcement.dismissals.count() == 1
    client.post(url)
    assert announcement.dismissals.count() == 1
    assert client.post(url, HTTP_ACCEPT="application/json").json() == {"dismissed": announcement.pk}


def test_admin_pages_show_no_banner(client, cast):
    make(title="Прекъсване")
    client.force_login(cast.admin)
    assert "Прекъсване" not in client.get("/admin/").content.decode()


def test_anonymous_sees_no_dismiss_button(client, cast):
    make(title="Публично")
    page = client.get(reverse("kb:index")).content.decode()
    assert "Публично" in page
    assert "/dismiss/" not in page
