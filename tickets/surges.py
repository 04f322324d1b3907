"""Surge detection: many similar requests from many institutions within the hour.

A beat task (tickets.tasks.detect_surges) clusters the signatures of the
requests filed in the last window, competence by competence
(similarity.cluster). A cluster that reaches the thresholds of its
competence (settings.HELPDESK_SURGE: requests, institutions, minutes) becomes
a SurgeAlert, or grows the alert it already is: a cluster whose terms match
an alert of the same competence seen within REMEMBER is that alert, so a
dismissed alert stays dismissed and an alert is raised once, not once a run.

A new alert is announced after the commit (signals.surge_alerted); the
console pushes it to the supervisors of the regions concerned and to central
support. Once an incident was created from it (actions.open_surge_incident),
a request filed later that matches it is linked to the incident on arrival
and its acknowledgement says the problem is known (known_problem_url).
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from django.db.models import Max
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import AgentProfile
from helpdesk import stamps
from helpdesk.cache import ahead_get, forget_ahead, read_ahead_on
from tickets import events, similarity
from tickets.models import Channel, SurgeAlert, Ticket, TicketSignature
from tickets.signals import surge_alerted

# An alert absorbs the clusters that match it for this long after its latest request.
REMEMBER = datetime.timedelta(hours=24)
# New requests are linked to the incident of an alert for this long after its latest match.
LINK_FOR = datetime.timedelta(days=3)
# The thresholds when settings name none for a competence.
DEFAULT = {"requests": 8, "institutions": 5, "minutes": 60}
# A wave is more than the usual: the cluster must exceed this many times the
# number of like requests an average window of the previous BASELINE held
# (the question asked every day is not a wave).
BASELINE = datetime.timedelta(hours=24)
ABOVE_USUAL = 2.5
# At most this many of a competence's latest requests are clustered in one run.
MAX_CLUSTERED = 2000
# Requests come in working hours: a day's like requests are spread over these.
ACTIVE_HOURS = 10

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Threshold:
    requests: int
    institutions: int
    minutes: int


def threshold_for(code: str | None) -> Threshold:
    """Return the thresholds of the competence `code` (settings.HELPDESK_SURGE, "*" the default)."""
    table = getattr(settings, "HELPDESK_SURGE", {}) or {}
    values = {**DEFAULT, **table.get("*", {}), **table.get(code or "", {})}
    return Threshold(int(values["requests"]), int(values["institutions"]), int(values["minutes"]))


def _longest_window() -> datetime.timedelta:
    table = getattr(settings, "HELPDESK_SURGE", {}) or {}
    minutes = [DEFAULT["minutes"]] + [int(v.get("minutes", 0)) for v in table.values()]
    return datetime.timedelta(minutes=max(minutes))


@dataclass
class Found:
    """One cluster over the thresholds, before it is stored."""

    competence_id: int | None
    ticket_ids: list[int]
    terms: tuple[str, ...]
    institutions: int
    regions: list[int]
    first_at: datetime.datetime
    last_at: datetime.datetime


def find_clusters(now=None) -> list[Found]:
    """Return the clusters of the recent requests that cross their competence's thresholds."""
    now = now or timezone.now()
    since = now - _longest_window()
    rows = list(
        TicketSignature.objects.filter(
            created_at__gte=since, created_at__lte=now, ticket__merged_into__isnull=True
        )
        .exclude(terms="")
        .exclude(ticket__is_incident=True)
        .order_by("created_at", "ticket_id")
        .values_list(
            "ticket_id",
            "terms",
            "competence_id",
            "competence__code",
            "institution_id",
            "region_id",
            "created_at",
        )
    )
    by_competence: dict[int | None, list] = {}
    for row in rows:
        by_competence.setdefault(row[2], []).append(row)
    found = []
    for competence_id, group in by_competence.items():
        limit = threshold_for(group[0][3])
        window_start = now - datetime.timedelta(minutes=limit.minutes)
        recent = [r for r in group if r[6] >= window_start]
        if len(recent) < limit.requests:
            continue
        # A bound on one run's work whatever the burst: the latest requests
        # only. A wave that big is far over any threshold; the requests left
        # out were in the previous runs' windows, and the alert's later
        # requests join it at the next runs.
        recent = recent[-MAX_CLUSTERED:]
        info = {r[0]: r for r in recent}
        for keys in similarity.cluster([(r[0], r[1]) for r in recent]):
            members = [info[k] for k in keys]
            institutions = {m[4] if m[4] is not None else -m[0] for m in members}
            if len(members) < limit.requests or len(institutions) < limit.institutions:
                continue
            if len(members) <= ABOVE_USUAL * _usual(competence_id, members, window_start, limit):
                continue
            found.append(
                Found(
                    competence_id=competence_id,
                    ticket_ids=[m[0] for m in members],
                    terms=similarity.common_terms(m[1] for m in members),
                    institutions=len(institutions),
                    regions=sorted({m[5] for m in members if m[5] is not None}),
                    first_at=members[0][6],
                    last_at=members[-1][6],
                )
            )
    return found


def _usual(competence_id, members, window_start, limit: Threshold) -> float:
    """How many requests like the cluster's an average window of the previous day's working hours held."""
    common = similarity.common_terms(m[1] for m in members)
    rows = (
        TicketSignature.objects.filter(
            competence_id=competence_id,
            created_at__gte=window_start - BASELINE,
            created_at__lt=window_start,
        )
        .exclude(terms="")
        .values_list("terms", flat=True)[:5000]
    )
    alike = sum(1 for terms in rows if similarity.score(common, terms) >= similarity.THRESHOLD)
    return alike * limit.minutes / (ACTIVE_HOURS * 60)


def _matching_alert(cluster: Found, now) -> SurgeAlert | None:
    candidates = SurgeAlert.objects.filter(
        competence_id=cluster.competence_id, last_at__gte=now - REMEMBER
    ).order_by("-last_at")
    members = set(cluster.ticket_ids)
    for alert in candidates:
        if members & set(alert.members.values_list("pk", flat=True)):
            return alert
        if similarity.score(alert.terms, cluster.terms) >= similarity.THRESHOLD:
            return alert
    return None


@transaction.atomic
def detect(now=None) -> list[SurgeAlert]:
    """Store the clusters over their thresholds as alerts; return the alerts that are new."""
    now = now or timezone.now()
    new = []
    for cluster in find_clusters(now):
        alert = _matching_alert(cluster, now)
        label = (
            Ticket.objects.filter(pk=cluster.ticket_ids[0])
            .values_list("subject", flat=True)
            .first()
            or ""
        )
        if alert is None:
            alert = SurgeAlert.objects.create(
                competence_id=cluster.competence_id,
                terms=" ".join(cluster.terms),
                label=label[:200],
                first_at=cluster.first_at,
                last_at=cluster.last_at,
                created_at=now,
            )
            new.append(alert)
        alert.members.add(*cluster.ticket_ids)
        _recount(alert, cluster)
    for alert in new:
        transaction.on_commit(
            lambda pk=alert.pk: surge_alerted.send_robust(sender=SurgeAlert, alert_id=pk)
        )
    return new


def _recount(alert: SurgeAlert, cluster: Found | None = None) -> None:
    members = alert.members.all()
    alert.request_count = members.count()
    alert.institution_count = members.values("institution").distinct().count()
    regions = set(alert.region_ids) | set(
        members.exclude(region__isnull=True).values_list("region_id", flat=True)
    )
    alert.region_ids = sorted(regions)
    if cluster is not None:
        alert.first_at = min(alert.first_at, cluster.first_at)
        alert.last_at = max(alert.last_at, cluster.last_at)
    alert.save()


def may_handle(user, alert: SurgeAlert) -> bool:
    """Central support, national supervisors, and supervisors of a region the alert touches."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    agent = user.agent
    if agent is None:
        return False
    if agent.tier == AgentProfile.Tier.CENTRAL:
        return True
    if agent.kind != AgentProfile.Kind.SUPERVISOR:
        return False
    return agent.region_id is None or agent.region_id in set(alert.region_ids)


def alerts_for(user, *, limit: int = 10) -> list[SurgeAlert]:
    """Return the open alerts `user` should see, latest first."""
    rows = SurgeAlert.objects.filter(
        state=SurgeAlert.State.OPEN, last_at__gte=timezone.now() - REMEMBER
    ).select_related("competence")
    return [a for a in rows[:100] if may_handle(user, a)][:limit]


# --- which competences have an incident to link to, known without a query --------------
#
# Every filing asks for the alerts that became incidents; nearly always there
# are none. Each process keeps {competence id: latest last_at} of the alerts
# in the incident state, under a version kept in the shared cache (Redis). A
# change of any alert (post_save, post_delete, and link_on_arrival's own
# update of last_at) replaces the version at once and again after the
# commit, so every process reads the alerts again at its next filing. The
# map may hold more than is true (an incident closed or merged, a rollback):
# then the query runs as before and decides. A cache that other processes do
# not share (locmem, the embedded default) cannot carry the version: there
# the query always runs, unless a stamp file (helpdesk/stamps.py, the
# embedded default outside tests) carries the version between this
# machine's processes instead.

_VERSION_KEY = "surges:incidents:version"
# Asked by every filing (link_on_arrival): read with its other flags (helpdesk/cache.py).
read_ahead_on("filing", _VERSION_KEY)
# A safety net for a version change lost with the cache server: read again after this long.
_KNOWN_SECONDS = 300
_known: tuple[str, float, dict] | None = None  # (version, monotonic time read, map)


def _shared_cache() -> bool:
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def _stamp():
    """The stamp file that carries the version where the cache is not shared, or None."""
    return None if _shared_cache() else stamps.path("surges", "HELPDESK_SURGES_STAMP_FILE")


def _new_version() -> None:
    global _known
    _known = None
    if not _shared_cache():
        try:
            stamps.renew(_stamp())
        except OSError:  # the map is read again within _KNOWN_SECONDS
            logger.warning("could not renew the surge incident stamp", exc_info=True)
        return
    forget_ahead(_VERSION_KEY)
    try:
        cache.set(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # a cache server away: the map is read again within _KNOWN_SECONDS
        logger.warning("could not renew the surge incident version", exc_info=True)


def forget_incidents() -> None:
    """The alerts changed: every process reads them again (now, and after the commit)."""
    _new_version()
    transaction.on_commit(_new_version, robust=True)


@receiver(post_save, sender=SurgeAlert, dispatch_uid="surges.forget_incidents.save")
@receiver(post_delete, sender=SurgeAlert, dispatch_uid="surges.forget_incidents.delete")
def _alert_changed(**kwargs):
    # Connected when this module is imported: every code path that writes an
    # alert (detection, the alert actions, filing) imports it first.
    forget_incidents()


def incidents_by_competence() -> dict | None:
    """{competence id: latest last_at} of the alerts that became incidents; None if unknown."""
    global _known
    if _shared_cache():
        try:
            version = ahead_get(cache, _VERSION_KEY)
            if version is None:  # first use, or the cache server lost it
                cache.add(_VERSION_KEY, uuid.uuid4().hex, timeout=None)
                version = cache.get(_VERSION_KEY)
                if version is None:
                    return None
        except Exception:
            logger.warning("could not read the surge incident version", exc_info=True)
            return None
    else:
        stamp = _stamp()
        if stamp is None:
            return None
        try:
            version = stamps.read(stamp)  # "" until the first change writes one
        except OSError:
            logger.warning("could not read the surge incident stamp", exc_info=True)
            return None
    known = _known
    if known is not None and known[0] == version and time.monotonic() - known[1] < _KNOWN_SECONDS:
        return known[2]
    # Read after the version: an alert committed later changes the version again.
    read_at = time.monotonic()
    found = dict(
        SurgeAlert.objects.filter(state=SurgeAlert.State.INCIDENT, incident__isnull=False)
        .order_by()
        .values("competence_id")
        .annotate(latest=Max("last_at"))
        .values_list("competence_id", "latest")
    )
    _known = (version, read_at, found)
    return found


def _may_have_incident(ticket: Ticket, at) -> bool:
    known = incidents_by_competence()
    if known is None:
        return True
    since = at - LINK_FOR
    if ticket.competence_id is None:
        latest = known.values()
    else:
        latest = [known.get(ticket.competence_id)]
    return any(last is not None and last >= since for last in latest)


def link_on_arrival(ticket: Ticket, terms, *, channel, at) -> SurgeAlert | None:
    """Link a new request to the incident of a matching alert; return that alert or None.

    Called by filing, inside its transaction, after the request's first history line.
    """
    if not terms or ticket.is_incident:
        return None
    if not _may_have_incident(ticket, at):
        return None  # no alert of its competence became an incident lately: no query
    alerts = SurgeAlert.objects.filter(
        state=SurgeAlert.State.INCIDENT,
        incident__isnull=False,
        incident__merged_into__isnull=True,
        last_at__gte=at - LINK_FOR,
    ).select_related("incident")
    if ticket.competence_id is not None:
        alerts = alerts.filter(competence_id=ticket.competence_id)
    best, best_score = None, similarity.THRESHOLD
    for alert in alerts.order_by("-last_at")[:20]:
        value = similarity.score(terms, alert.terms)
        if value >= best_score and alert.incident.is_open:
            best, best_score = alert, value
    if best is None:
        return None
    incident = best.incident
    ticket.parent = incident
    Ticket.objects.filter(pk=ticket.pk).update(parent=incident)
    events.incident_joined(ticket, incident=incident, old="", actor=None, channel=channel, at=at)
    events.incident_gained(incident, child=ticket, actor=None, channel=Channel.SYSTEM, at=at)
    best.members.add(ticket)
    SurgeAlert.objects.filter(pk=best.pk).update(
        last_at=max(best.last_at, at), request_count=best.members.count()
    )
    forget_incidents()  # its last_at moved on
    return best


def known_problem_url(ticket: Ticket) -> str:
    """The announcement link of the surge incident `ticket` belongs to ("" when none)."""
    if not ticket.parent_id:
        return ""
    url = (
        SurgeAlert.objects.filter(incident_id=ticket.parent_id)
        .exclude(announcement_url="")
        .values_list("announcement_url", flat=True)
        .first()
    )
    return url or ""
