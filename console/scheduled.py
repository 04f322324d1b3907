"""Scheduled reports: the figures of a supervisor's scope, mailed after each week or month.

console.tasks.send_scheduled_reports (celery beat, hourly) calls send_due():
for each subscription whose last full period (Monday to Sunday, or a
calendar month) has ended and was not sent yet, it computes the figures over
what the subscriber may see (the dashboard's Scope and queries), writes one
outbox row with a short HTML summary and a CSV attachment in the
subscriber's language (tickets.outbox.report), and remembers the period, in
one transaction. mailbridge/outbound.py delivers the row like any other.
"""

import datetime
import logging
from dataclasses import dataclass

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.permissions import is_supervisor
from console.dashboard.figures import csat
from console.dashboard.queries import Scope, percent, sla_attainment
from console.dashboard.reports import csv_bytes
from tickets import outbox
from tickets.models import ReportSubscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    key: str  # "2026-W49" or "2026-11"
    start: datetime.date
    end: datetime.date  # inclusive


def last_full_period(kind: str, today: datetime.date) -> Period:
    """Return the last week (Monday to Sunday) or calendar month that ended before `today`."""
    if kind == ReportSubscription.Period.WEEKLY:
        start = today - datetime.timedelta(days=today.weekday() + 7)
        end = start + datetime.timedelta(days=6)
        year, week, _day = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, end)
    end = today.replace(day=1) - datetime.timedelta(days=1)
    start = end.replace(day=1)
    return Period(f"{start.year}-{start.month:02d}", start, end)


def scope_for(subscription: ReportSubscription, period: Period) -> Scope:
    """Return the dashboard scope of a subscriber: what they may see, in the period."""
    user = subscription.user
    scope = Scope(user=user, start=period.start, end=period.end)
    if scope.national:
        scope.region = subscription.region
    else:
        agent = user.agent
        scope.region = agent.region if agent is not None else None
    return scope


def report_rows(scope: Scope) -> tuple[list[str], list[list], dict]:
    """Return (header, rows per competence, totals) of a scheduled report."""
    sla = sla_attainment(scope)
    ratings = {r["name"]: r for r in csat(scope) if r["group"] == "competence"}
    header = [
        _("Competence"),
        _("Created"),
        _("First response met"),
        _("First response due"),
        _("First response met, %"),
        _("Resolution met"),
        _("Resolution due"),
        _("Resolution met, %"),
        _("Ratings"),
        _("Average rating (1–5)"),
        _("CSAT, %"),
    ]
    rows = []
    totals = dict.fromkeys(
        ("created", "first_met", "first_due", "res_met", "res_due", "rated", "satisfied"), 0
    )
    rating_sum = 0.0
    names = [r["competence"] for r in sla] + [
        n for n in ratings if n not in {r["competence"] for r in sla}
    ]
    by_name = {r["competence"]: r for r in sla}
    for name in names:
        s = by_name.get(name, {})
        c = ratings.get(name, {})
        rows.append(
            [
                name,
                s.get("created", 0),
                s.get("first_met", 0),
                s.get("first_due", 0),
                s.get("first_pct"),
                s.get("resolution_met", 0),
                s.get("resolution_due", 0),
                s.get("resolution_pct"),
                c.get("rated", 0),
                c.get("average"),
                c.get("csat_pct"),
            ]
        )
        totals["created"] += s.get("created", 0)
        totals["first_met"] += s.get("first_met", 0)
        totals["first_due"] += s.get("first_due", 0)
        totals["res_met"] += s.get("resolution_met", 0)
        totals["res_due"] += s.get("resolution_due", 0)
        totals["rated"] += c.get("rated", 0)
        totals["satisfied"] += c.get("satisfied", 0)
        rating_sum += (c.get("average") or 0) * c.get("rated", 0)
    summary = {
        **totals,
        "first_pct": percent(totals["first_met"], totals["first_due"]),
        "resolution_pct": percent(totals["res_met"], totals["res_due"]),
        "csat_pct": percent(totals["satisfied"], totals["rated"]),
        "average": round(rating_sum / totals["rated"], 2) if totals["rated"] else None,
    }
    return header, rows, summary


def write_report(subscription: ReportSubscription, period: Period) -> bool:
    """Write the outbox row of one subscription's report for `period`; False if written before."""
    user = subscription.user
    language = user.language or "bg"
    with translation.override(language):
        scope = scope_for(subscription, period)
        header, rows, summary = report_rows(scope)
        context = {
            "scope": scope,
            "period": period,
            "subscription": subscription,
            "summary": summary,
            "header": header,
            "rows": rows,
        }
        subject = render_to_string("console/emails/report_subject.txt", context).strip()
        text = render_to_string("console/emails/report.txt", context)
        html = render_to_string("console/emails/report.html", context)
        attachment = csv_bytes(header, rows, language)
    row = outbox.report(
        key=f"{subscription.pk}:{period.key}",
        address=user.email,
        language=language,
        subject=subject,
        text=text,
        html=html,
        attachments=[(f"report-{period.key}.csv", "text/csv", attachment)],
    )
    return row is not None


def send_due(now=None) -> int:
    """Write the reports whose period has ended and was not sent; return how many."""
    today = timezone.localdate(now or timezone.now())
    written = 0
    subscriptions = ReportSubscription.objects.filter(user__is_active=True).select_related(
        "user", "region"
    )
    for subscription in subscriptions:
        period = last_full_period(subscription.period, today)
        if subscription.last_period == period.key:
            continue
        if not is_supervisor(subscription.user) or subscription.user.email_undeliverable:
            continue
        try:
            with transaction.atomic():
                locked = ReportSubscription.objects.select_for_update().get(pk=subscription.pk)
                if locked.last_period == period.key:
                    continue
                if write_report(subscription, period):
                    written += 1
                locked.last_period = period.key
                locked.save(update_fields=["last_period"])
        except ReportSubscription.DoesNotExist:
            continue
        except Exception:  # one broken report must not stop the others; tried next hour
            log.exception("scheduled report %s for %s failed", subscription.pk, period.key)
    return written
