"""What administrators may type for routing and SLA: the admin forms and the models' clean."""

import datetime

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse

from accounts.admin import AbsenceInline, AgentProfileForm
from accounts.models import Absence, AgentProfile, User
from tickets import sla
from tickets.admin import (
    CalendarExceptionForm,
    CompetenceForm,
    SLAPolicyForm,
    WorkingHoursForm,
    normalise_keywords,
)
from tickets.models import CalendarException, Competence, SLAPolicy, WorkingHours

pytestmark = pytest.mark.django_db


# --- SLA policies -------------------------------------------------------------------


@pytest.mark.parametrize(
    "first, resolution, field",
    [
        ("0", "60", "first_response_minutes"),
        ("-5", "60", "first_response_minutes"),
        ("30", "0", "resolution_minutes"),
        ("30", "-1", "resolution_minutes"),
        ("120", "60", "resolution_minutes"),
        ("", "60", "first_response_minutes"),
        ("30", "", "resolution_minutes"),
        ("abc", "60", "first_response_minutes"),
    ],
)
def test_sla_policy_targets_are_positive_and_ordered(first, resolution, field):
    form = SLAPolicyForm(
        data={
            "priority": "normal",
            "first_response_minutes": first,
            "resolution_minutes": resolution,
        }
    )
    assert not form.is_valid()
    assert field in form.errors
    assert not SLAPolicy.objects.exists()


def test_sla_policy_valid_and_equal_targets_are_accepted(cast):
    form = SLAPolicyForm(
        data={"priority": "urgent", "first_response_minutes": "60", "resolution_minutes": "60"}
    )
    assert form.is_valid(), form.errors
    form.save()
    per_competence = SLAPolicyForm(
        data={
            "priority": "urgent",
            "competence": cast.diplomas.pk,
            "first_response_minutes": "30",
            "resolution_minutes": "240",
        }
    )
    assert per_competence.is_valid(), per_competence.errors


def test_one_general_and_one_per_competence_policy_per_priority(cast):
    SLAPolicy.objects.create(priority="high", first_response_minutes=60, resolution_minutes=600)
    SLAPolicy.objects.create(
        priority="high", competence=cast.diplomas, first_response_minutes=30, resolution_minutes=90
    )
    for competence in (None, cast.diplomas.pk):
        form = SLAPolicyForm(
            data={
                "priority": "high",
                "competence": competence or "",
                "first_response_minutes": "10",
                "resolution_minutes": "20",
            }
        )
        assert not form.is_valid()
        assert form.non_field_errors()


@pytest.mark.parametrize(
    "first, resolution",
    [(0, 60), (60, 0), (120, 60)],
)
def test_sla_policy_model_clean(first, resolution):
    policy = SLAPolicy(priority="low", first_response_minutes=first, resolution_minutes=resolution)
    with pytest.raises(ValidationError):
        policy.full_clean()


def test_sla_policy_model_clean_reports_a_missing_target_without_crashing():
    policy = SLAPolicy(priority="low", first_response_minutes=None, resolution_minutes=60)
    with pytest.raises(ValidationError) as error:
        policy.full_clean()
    assert "first_response_minutes" in error.value.message_dict


# --- working hours ------------------------------------------------------------------------


def hours_form(**data):
    data = {"weekdays": "0,1,2,3,4", "opens_at": "09:00", "closes_at": "17:30", **data}
    return WorkingHoursForm(data=data)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("0,1,2,3,4", "0,1,2,3,4"),
        (" 4, 3 ,2,1,0 ", "0,1,2,3,4"),
        ("0,0,1", "0,1"),
        ("0 1 2 3 4 5", "0,1,2,3,4,5"),
        ("6", "6"),
    ],
)
def test_weekdays_are_normalised(typed, stored):
    form = hours_form(weekdays=typed)
    assert form.is_valid(), form.errors
    assert form.save().weekdays == stored


@pytest.mark.parametrize("typed", ["", "7", "0,7", "-1", "mon,tue", "1.5", ",,"])
def test_weekdays_must_be_numbers_0_to_6(typed):
    form = hours_form(weekdays=typed)
    assert not form.is_valid()
    assert "weekdays" in form.errors


@pytest.mark.parametrize("opens, closes", [("17:30", "09:00"), ("09:00", "09:00")])
def test_closing_must_follow_opening(opens, closes):
    form = hours_form(opens_at=opens, closes_at=closes)
    assert not form.is_valid()
    assert "closes_at" in form.errors


def test_working_hours_model_clean():
    with pytest.raises(ValidationError):
        WorkingHours(weekdays="0,9").full_clean()
    with pytest.raises(ValidationError):
        WorkingHours(opens_at=datetime.time(18), closes_at=datetime.time(8)).full_clean()


def test_one_default_and_one_per_region(cast):
    assert hours_form().is_valid()
    hours_form().save()
    second_default = hours_form()
    assert not second_default.is_valid() and "region" in second_default.errors
    regional = hours_form(region=cast.region_x.pk, opens_at="08:00")
    assert regional.is_valid(), regional.errors
    regional.save()
    again = hours_form(region=cast.region_x.pk)
    assert not again.is_valid() and "region" in again.errors
    # Editing the default keeps it valid.
    default = WorkingHours.objects.get(region=None)
    edit = WorkingHoursForm(
        instance=default, data={"weekdays": "0,1,2,3", "opens_at": "09:00", "closes_at": "17:00"}
    )
    assert edit.is_valid(), edit.errors


# --- calendar exceptions ------------------------------------------------------------------


def exception_form(day="2025-12-31", region=None, kind="closed"):
    return CalendarExceptionForm(data={"date": day, "kind": kind, "region": region or ""})


def test_one_exception_per_date_nationwide_and_per_region(cast):
    exception_form().save()
    nationwide_again = exception_form(kind="open")
    assert not nationwide_again.is_valid()
    regional = exception_form(region=cast.region_x.pk)
    assert regional.is_valid(), regional.errors
    regional.save()
    assert not exception_form(region=cast.region_x.pk).is_valid()
    assert exception_form(region=cast.region_y.pk).is_valid()
    assert exception_form(day="2026-01-02").is_valid()
    assert CalendarException.objects.count() == 2


def test_calendar_exception_model_validates_its_unique_region_date(cast):
    CalendarException.objects.create(date=datetime.date(2026, 1, 2), region=cast.region_x)
    with pytest.raises(ValidationError):
        CalendarException(date=datetime.date(2026, 1, 2), region=cast.region_x).full_clean()


# --- competences ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("диплом,свидетелств", "диплом, свидетелств"),
        ("  Диплом , СВИДЕТЕЛСТВ ,диплом,, ", "диплом, свидетелств"),
        ("ЕГН; API\nшколо", "егн, api, школо"),
        ("регистър   на  документ", "регистър на документ"),
        ("", ""),
        (" , ,", ""),
    ],
)
def test_keywords_are_trimmed_lowercased_and_deduplicated(typed, stored):
    assert normalise_keywords(typed) == stored


def test_competence_form_stores_normalised_keywords():
    form = CompetenceForm(
        data={
            "code": "stipends",
            "name": "Стипендии",
            "keywords": " Стипенди, стипенди ,Помощ ",
            "tier": "regional",
            "order": "200",
            "is_active": "on",
        }
    )
    assert form.is_valid(), form.errors
    competence = form.save()
    assert competence.keywords == "стипенди, помощ"
    assert competence.keyword_list() == ("стипенди", "помощ")


def test_competence_admin_uses_the_form(cast, client):
    client.force_login(cast.admin)
    response = client.post(
        reverse("admin:tickets_competence_add"),
        {
            "code": "stipends",
            "name": "Стипендии",
            "keywords": "СТИПЕНДИ,стипенди",
            "tier": "regional",
            "order": "200",
            "is_active": "on",
            # The inline of the competence's extra fields, empty.
            "extra_fields-TOTAL_FORMS": "0",
            "extra_fields-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Competence.objects.get(code="stipends").keywords == "стипенди"


# --- agents and absences ----------------------------------------------------------------------


def agent_form(cast, **data):
    user = User.objects.create_user(email=f"new{User.objects.count()}@ruo.bg", password=None)
    data = {
        "user": user.pk,
        "tier": "regional",
        "kind": "expert",
        "region": cast.region_x.pk,
        "competences": [cast.diplomas.pk],
        "capacity": "10",
        **data,
    }
    return AgentProfileForm(data=data)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"capacity": "0"}, "capacity"),
        ({"capacity": "-3"}, "capacity"),
        ({"region": ""}, "region"),
        ({"tier": "central"}, "region"),
    ],
)
def test_agent_profile_is_checked(cast, data, field):
    form = agent_form(cast, **data)
    assert not form.is_valid()
    assert field in form.errors


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"kind": "supervisor", "capacity": "0"},
        {"tier": "central", "region": "", "capacity": "1"},
        {"kind": "supervisor", "tier": "central", "region": ""},
    ],
)
def test_valid_agent_profiles(cast, data):
    form = agent_form(cast, **data)
    assert form.is_valid(), form.errors


def test_agent_profile_model_clean(cast):
    with pytest.raises(ValidationError):
        AgentProfile(user=cast.outsider, tier="regional", kind="expert", capacity=0).full_clean()


def absence_formset(cast, rows, existing=()):
    """Bind the admin's absence inline of expert X to `rows` [(start, end)] (new rows)."""
    profile = cast.expert_x.agent_profile
    request = RequestFactory().post("/")
    request.user = cast.admin
    inline = AbsenceInline(AgentProfile, admin.site)
    FormSet = inline.get_formset(request, profile)
    prefix = FormSet.get_default_prefix()
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(existing) + len(rows)),
        f"{prefix}-INITIAL_FORMS": str(len(existing)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, absence in enumerate(existing):
        data[f"{prefix}-{i}-id"] = str(absence.pk)
        data[f"{prefix}-{i}-agent"] = str(profile.pk)
        data[f"{prefix}-{i}-starts_at_0"] = absence.starts_at.strftime("%Y-%m-%d")
        data[f"{prefix}-{i}-starts_at_1"] = absence.starts_at.strftime("%H:%M:%S")
        data[f"{prefix}-{i}-ends_at_0"] = absence.ends_at.strftime("%Y-%m-%d")
        data[f"{prefix}-{i}-ends_at_1"] = absence.ends_at.strftime("%H:%M:%S")
    for j, (starts, ends) in enumerate(rows, start=len(existing)):
        data[f"{prefix}-{j}-agent"] = str(profile.pk)
        data[f"{prefix}-{j}-starts_at_0"], data[f"{prefix}-{j}-starts_at_1"] = starts.split()
        data[f"{prefix}-{j}-ends_at_0"], data[f"{prefix}-{j}-ends_at_1"] = ends.split()
    return FormSet(data=data, instance=profile, prefix=prefix)


def test_absence_inline_accepts_separate_periods(cast):
    formset = absence_formset(
        cast,
        [
            ("2026-07-01 00:00:00", "2026-07-15 00:00:00"),
            ("2026-08-01 00:00:00", "2026-08-10 00:00:00"),
        ],
    )
    assert formset.is_valid(), (formset.errors, formset.non_form_errors())
    formset.save()
    assert Absence.objects.filter(agent__user=cast.expert_x).count() == 2


def test_absence_inline_refuses_an_end_before_the_start(cast):
    formset = absence_formset(cast, [("2026-07-15 00:00:00", "2026-07-01 00:00:00")])
    assert not formset.is_valid()
    assert "ends_at" in formset.errors[0]


def test_absence_inline_refuses_overlapping_new_rows(cast):
    formset = absence_formset(
        cast,
        [
            ("2026-07-01 00:00:00", "2026-07-15 00:00:00"),
            ("2026-07-10 00:00:00", "2026-07-20 00:00:00"),
        ],
    )
    assert not formset.is_valid()
    assert formset.non_form_errors()
    assert not Absence.objects.exists()


def test_absence_inline_refuses_overlap_with_a_saved_absence(cast):
    profile = cast.expert_x.agent_profile
    saved = Absence.objects.create(
        agent=profile,
        starts_at=datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2026, 7, 15, tzinfo=datetime.UTC),
    )
    formset = absence_formset(cast, [("2026-07-14 00:00:00", "2026-07-20 00:00:00")], [saved])
    assert not formset.is_valid()
    assert Absence.objects.count() == 1


def test_absence_model_clean(cast):
    profile = cast.expert_x.agent_profile
    start = datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC)
    Absence.objects.create(agent=profile, starts_at=start, ends_at=start + datetime.timedelta(7))
    with pytest.raises(ValidationError):
        Absence(agent=profile, starts_at=start, ends_at=start).full_clean()
    with pytest.raises(ValidationError):
        Absence(
            agent=profile,
            starts_at=start + datetime.timedelta(3),
            ends_at=start + datetime.timedelta(9),
        ).full_clean()
    Absence(
        agent=profile,
        starts_at=start + datetime.timedelta(7),
        ends_at=start + datetime.timedelta(9),
    ).full_clean()


# --- the SLA caches follow the admin ------------------------------------------------------------


def test_saving_working_hours_in_the_admin_clears_the_calendar_cache(cast, client):
    assert sla.calendar_for(cast.region_x.pk).day_start == datetime.time(9)
    client.force_login(cast.admin)
    response = client.post(
        reverse("admin:tickets_workinghours_add"),
        {
            "region": cast.region_x.pk,
            "weekdays": "0,1,2,3,4",
            "opens_at": "08:00",
            "closes_at": "16:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sla.calendar_for(cast.region_x.pk).day_start == datetime.time(8)

    hours = WorkingHours.objects.get(region=cast.region_x)
    response = client.post(
        reverse("admin:tickets_workinghours_delete", args=[hours.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert sla.calendar_for(cast.region_x.pk).day_start == datetime.time(9)


def test_saving_a_holiday_in_the_admin_clears_the_calendar_cache(cast, client):
    day = datetime.date(2026, 6, 3)  # a Wednesday
    assert sla.calendar_for(cast.region_x.pk).is_working_day(day)
    client.force_login(cast.admin)
    response = client.post(
        reverse("admin:tickets_calendarexception_add"),
        {"date": "2026-06-03", "kind": "closed", "region": "", "note": "Избори"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not sla.calendar_for(cast.region_x.pk).is_working_day(day)


def test_saving_a_policy_in_the_admin_clears_the_caches(cast, client, monkeypatch):
    cleared = []
    monkeypatch.setattr(sla, "clear_caches", lambda: cleared.append(True))
    client.force_login(cast.admin)
    response = client.post(
        reverse("admin:tickets_slapolicy_add"),
        {
            "priority": "urgent",
            "competence": "",
            "first_response_minutes": "30",
            "resolution_minutes": "240",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert cleared
    assert sla.targets_for("urgent", None) == (30, 240)


def test_the_admin_refuses_a_zero_target(cast, client):
    client.force_login(cast.admin)
    response = client.post(
        reverse("admin:tickets_slapolicy_add"),
        {
            "priority": "urgent",
            "competence": "",
            "first_response_minutes": "0",
            "resolution_minutes": "240",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["first_response_minutes"]
    assert not SLAPolicy.objects.exists()


@pytest.mark.django_db
def test_every_model_has_an_admin_page_an_administrator_can_open(client, cast):
    from django.apps import apps
    from django.contrib import admin
    from django.urls import reverse

    client.force_login(cast.admin)
    missing = []
    for model in apps.get_models():
        if model._meta.app_label not in {"accounts", "tickets", "mailbridge", "kb"}:
            continue
        if model not in admin.site._registry:
            missing.append(model.__name__)
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
    # Counters and thread keys are internal; the rest are edited inline on
    # their parent's page (agent, institution, ticket, deflection record;
    # a ticket's tags and field answers).
    allowed = {
        "ReferenceCounter",
        "MailThreadKey",
        "Absence",
        "InstitutionDomain",
        "Message",
        "TicketEvent",
        "SuggestedArticle",
        "Watcher",
        "TicketTag",
        "TicketFieldValue",
        # The dashboard's counters: derived from the tickets, never edited
        # (manage.py rebuild_dashboard_counters recounts them).
        "DayFigure",
        "ChannelFigure",
        "LoadFigure",
    }
    assert set(missing) <= allowed, set(missing) - allowed
