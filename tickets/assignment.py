"""Routing with the database: feed tickets.routing the facts, apply its decision.

The decision itself is the pure function tickets.routing.route(); this module
only gathers plain data (institutions, competences, agents with their current
load) and writes the result. Candidate agents are locked (select_for_update)
while their load is counted, so two tickets routed at the same moment cannot
both push one expert past capacity. The agents with everything routing asks
of them are one statement (two on PostgreSQL: the lock, then the read),
composed once per shape in tickets/candidates.py.
"""

import dataclasses
import datetime
import json
import time
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from accounts.models import AgentProfile, Institution, InstitutionDomain, Region
from tickets import candidates, routing
from tickets.models import Competence, Ticket, TicketEvent


def institution_info(institution: Institution) -> routing.InstitutionInfo:
    return routing.InstitutionInfo(
        id=institution.pk,
        code=institution.code,
        region_code=institution.region.code,
    )


class DatabaseDirectory:
    """routing.Directory over the Institution tables.

    The answers come from this process's copy of the directory's codes and
    mail domains (``directory_snapshot``), read in one statement and kept for
    a short while: a mail from a sender without an account asks it for a
    domain or two and for the codes in its text, a lookup each, no query.
    """

    def institution_by_code(self, code):
        return directory_snapshot().by_code.get(code)

    def institution_by_domain(self, domain):
        return directory_snapshot().by_domain.get(domain.lower())


@dataclasses.dataclass(frozen=True)
class DirectorySnapshot:
    by_code: dict[str, routing.InstitutionInfo]
    by_domain: dict[str, routing.InstitutionInfo]


def _read_directory() -> DirectorySnapshot:
    by_code: dict[str, routing.InstitutionInfo] = {}
    by_id: dict[int, routing.InstitutionInfo] = {}
    for pk, code, region_code in Institution.objects.order_by().values_list(
        "pk", "code", "region__code"
    ):
        by_id[pk] = by_code[code] = routing.InstitutionInfo(
            id=pk, code=code, region_code=region_code
        )
    by_domain = {
        domain: by_id[institution_id]
        for domain, institution_id in InstitutionDomain.objects.order_by().values_list(
            "domain", "institution_id"
        )
        if institution_id in by_id
    }
    return DirectorySnapshot(by_code=by_code, by_domain=by_domain)


# The catalogue and the regions change a few times a year but are read by
# every new request: keep them for a short while per process.
_CATALOGUE_SECONDS = 30


def _bucket() -> int:
    return int(time.monotonic() // _CATALOGUE_SECONDS)


@lru_cache(maxsize=2)
def _active_competences(_bucket: int):
    return {
        c.code: (
            c,
            routing.CompetenceInfo(
                code=c.code, tier=c.tier, keywords=c.keyword_list(), name=c.name
            ),
        )
        for c in Competence.objects.filter(is_active=True)
    }


def active_competences() -> dict[str, tuple[Competence, routing.CompetenceInfo]]:
    """Return {code: (Competence, CompetenceInfo)} of the active catalogue."""
    return _active_competences(_bucket())


@lru_cache(maxsize=2)
def _directory(_bucket: int) -> DirectorySnapshot:
    return _read_directory()


def directory_snapshot() -> DirectorySnapshot:
    """The institutions' codes and mail domains, as this process read them lately.

    5,000 institutions and their domains are a few hundred kilobytes, read in
    two short statements at most every _CATALOGUE_SECONDS, and only by a
    process that routes mail from unknown senders. A change made in this
    process is seen at once (``forget_directory``); one made elsewhere (the
    directory import, the admin of another web process) within that time.
    """
    return _directory(_bucket())


def forget_directory(**kwargs) -> None:
    """Receiver of the institutions' and their domains' saves and deletes."""
    _directory.cache_clear()


@lru_cache(maxsize=2)
def _regions_by_code(_bucket: int):
    return {r.code: r for r in Region.objects.all()}


def regions_by_code() -> dict[str, Region]:
    return _regions_by_code(_bucket())


def clear_caches() -> None:
    _directory.cache_clear()
    _active_competences.cache_clear()
    _regions_by_code.cache_clear()


def _codes(value) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):  # SQLite's json_group_array
        value = json.loads(value)
    return frozenset(value)


def _recent_assignee(ticket: Ticket, now):
    """The query of the requester's recent expert (previous_assignee_id), or None."""
    days = settings.HELPDESK["FOLLOWUP_WINDOW_DAYS"]
    if days == 0:
        return None
    recent = (
        Ticket.objects.filter(created_at__gte=now - datetime.timedelta(days=days))
        .exclude(pk=ticket.pk)
        .exclude(assignee=None)
    )
    if ticket.requester_id:
        recent = recent.filter(requester_id=ticket.requester_id)
    elif ticket.requester_email:
        recent = recent.filter(requester_email=ticket.requester_email)
    else:
        return None
    return recent.order_by("-created_at").values("assignee_id")[:1]


def previous_assignee_id(ticket: Ticket, now) -> int | None:
    """The expert of the same requester's recent request, for follow-ups."""
    recent = _recent_assignee(ticket, now)
    return None if recent is None else recent.values_list("assignee_id", flat=True).first()


def agent_infos(
    *,
    region_id: int | None,
    now: datetime.datetime,
    lock: bool = True,
    users=None,
    previous_of: Ticket | None = None,
):
    """Return AgentInfo for the experts who could take a ticket of this region.

    That is the region's experts and central support. With `lock`, their
    profile rows stay locked until the transaction ends. A dict passed as
    `users` receives their User rows by id (with their notification
    settings, read with the profiles), so the chosen expert need not be read
    again. With `previous_of`, return (agents, previous_assignee_id(that
    ticket)) instead, the follow-up's expert read in the same statement (None
    when there is no candidate at all, when it cannot matter).

    One statement reads the agents with their user, settings, region,
    competences, current absence and open load. On PostgreSQL the lock is a
    statement of its own before it: a statement sees the rows committed when
    it began, so a read that waited for the lock inside the same statement
    would count the loads as they were before the transaction it waited for
    (row locks refresh only the locked rows). SQLite needs no lock: its write
    transactions are serialised (IMMEDIATE) before routing reads anything.
    """
    window_start = None
    days = settings.HELPDESK["FOLLOWUP_WINDOW_DAYS"]
    if previous_of is not None and days:
        window_start = now - datetime.timedelta(days=days)
    # Composed once per shape, not by the ORM on every filing (tickets/candidates.py).
    rows = candidates.read(
        region_id=region_id, now=now, lock=lock, previous_of=previous_of, window_start=window_start
    )
    if users is not None:
        users.update((p.user.pk, p.user) for p in rows)
    agents = [
        routing.AgentInfo(
            id=p.user.pk,
            name=str(p.user),
            tier=p.tier,
            region_code=p.region_code,
            competences=_codes(p.competence_codes),
            capacity=p.capacity,
            open_load=p.open_load,
            absent=p.is_absent,
            last_assigned_at=p.last_assigned_at,
        )
        for p in rows
    ]
    if previous_of is None:
        return agents
    return agents, rows[0].previous_assignee if rows else None


def route_new_ticket(
    ticket: Ticket, *, channel: str, now=None, keep_competence=False, text: str | None = None
) -> TicketEvent:
    """Decide region, competence, tier and assignee of `ticket` (unsaved changes).

    Return the ROUTED history row that explains the decision: saved when the
    ticket already exists, unsaved (for the caller to save after inserting
    the ticket) when it is new. `text` is the request's text; without it the
    first message is read. The caller saves the ticket in its transaction.
    """
    now = now or timezone.now()
    if text is None:
        first = ticket.messages.order_by("created_at", "id").only("body_text").first()
        text = first.body_text if first else ""
    facts = routing.RequestFacts(
        institution=institution_info(ticket.institution) if ticket.institution_id else None,
        competence_code=ticket.competence.code if ticket.competence_id else None,
        subject=ticket.subject,
        text=text,
        sender_email=ticket.requester_email or None,
    )
    directory = DatabaseDirectory()
    # Resolve the institution first, so that only that region's experts are
    # locked while we count their load.
    institution, _why = routing.resolve_institution(facts, directory)
    region = regions_by_code().get(institution.region_code) if institution else None
    users: dict = {}
    agents, previous = agent_infos(
        region_id=region.pk if region else None, now=now, users=users, previous_of=ticket
    )
    # The follow-up's expert only matters among the candidates, read with them.
    facts = dataclasses.replace(facts, previous_assignee_id=previous)
    competences = active_competences()
    decision = routing.route(facts, directory, [info for _c, info in competences.values()], agents)

    if decision.institution is not None and not ticket.institution_id:
        ticket.institution_id = decision.institution.id
        ticket.institution_verified = False
    ticket.region = region if decision.region_code else None
    if decision.competence_code and not (keep_competence and ticket.competence_id):
        ticket.competence = competences[decision.competence_code][0]
    ticket.tier = decision.tier
    if decision.assignee_id in users:
        ticket.assignee = users[decision.assignee_id]  # no second read when they are told
    else:
        ticket.assignee_id = decision.assignee_id
    if decision.assignee_id:
        AgentProfile.objects.filter(user_id=decision.assignee_id).update(last_assigned_at=now)
    event = TicketEvent(
        ticket=ticket,
        channel=channel,
        kind=TicketEvent.Kind.ROUTED,
        field="queue",
        new_value=decision.queue,
        note="; ".join(r for r in decision.reasons if r),
        created_at=now,
    )
    if ticket.pk:
        event.save()
    return event


def pick_again(ticket: Ticket, *, exclude_user_id: int | None, now) -> tuple[int | None, str]:
    """Choose a new assignee for an existing ticket; return (user id or None, reason).

    Keeps the ticket's region, competence and tier, and leaves out
    `exclude_user_id` (the expert handing over). Uses the same balancing as
    a new ticket, with the same row locks on the candidates, and records
    the assignment time for round robin. None means the competence queue
    (or triage, when the competence or region is unknown).
    """
    if ticket.competence_id is None:
        return None, "no assignee: competence unknown"
    region_code = ticket.region.code if ticket.region_id else None
    agents, previous = agent_infos(region_id=ticket.region_id, now=now, previous_of=ticket)
    agents = [a for a in agents if a.id != exclude_user_id]
    competence = routing.CompetenceInfo(code=ticket.competence.code, tier=ticket.tier, keywords=())
    agent, why = routing.pick_assignee(agents, region_code, competence, previous)
    if agent is None:
        return None, why
    AgentProfile.objects.filter(user_id=agent.id).update(last_assigned_at=now)
    return agent.id, why
