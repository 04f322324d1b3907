"""Routing's candidate read: one statement composed once per database and shape.

Every new request (portal, e-mail, API) reads the experts who could take it
with their user, notification settings, region, competences, current absence,
open load and, for a follow-up, the requester's recent expert. Built by the
ORM (three joins, four subqueries, the row lock before it), composing that
statement cost about 5 ms of CPU per filing, some twenty times what the
database takes to run it: the largest single part of a filing.

Here the statements are composed from the models' metadata (no table or
column name is spelled out, so a renamed field follows) the first time a
shape is needed and kept for the life of the process; each call only binds
its values and turns the rows into the objects ``select_related`` would give
(the User with its AgentSettings cached, or cached as missing). The shapes:
database vendor, locked ids or the scope as the filter, with or without a
region, and the follow-up's subquery by requester id, by address or none.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection

from accounts.models import Absence, AgentProfile, Region
from helpdesk.rowsql import ModelColumns, cache_one_to_one, composed
from tickets.models import OPEN_STATUSES, AgentSettings, Competence, Ticket


@dataclass(frozen=True)
class Row:
    """One candidate as read: what AgentInfo needs, and the person for telling them."""

    user: object
    tier: str
    capacity: int
    last_assigned_at: object
    region_code: str | None
    competence_codes: object  # a list (PostgreSQL) or a JSON array (SQLite); None without any
    is_absent: bool
    open_load: int
    previous_assignee: int | None


class _Shape:
    """The statements and row decoding of one shape, composed once."""

    def __init__(self, conn, by_ids: bool, with_region: bool, previous: str, exclude_pk: bool):
        vendor = conn.vendor
        qn = conn.ops.quote_name
        User = get_user_model()
        P, U, S, R = AgentProfile._meta, User._meta, AgentSettings._meta, Region._meta
        T, A, C = Ticket._meta, Absence._meta, Competence._meta
        through = AgentProfile.competences.through._meta
        pf = {f.name: qn(f.column) for f in P.concrete_fields}
        uf = {f.name: qn(f.column) for f in U.concrete_fields}
        tf = {f.name: qn(f.column) for f in T.concrete_fields}
        af = {f.name: qn(f.column) for f in A.concrete_fields}
        th_profile = qn(through.get_field("agentprofile").column)
        th_competence = qn(through.get_field("competence").column)
        settings_user = qn(S.get_field("user").column)

        self.users = ModelColumns(User, "u", conn)
        self.settings = ModelColumns(AgentSettings, "s", conn)
        self.profiles = ModelColumns(AgentProfile, "p", conn)

        aggregate = "array_agg" if vendor == "postgresql" else "json_group_array"
        open_marks = ", ".join(["%s"] * len(OPEN_STATUSES))
        if previous == "none":
            previous_sql = "NULL"
        else:
            who = tf["requester"] if previous == "id" else tf["requester_email"]
            previous_sql = (
                f"(SELECT t.{tf['assignee']} FROM {qn(T.db_table)} t"
                f" WHERE t.{tf['created_at']} >= %s AND t.{tf['assignee']} IS NOT NULL"
                f" AND t.{who} = %s"
                + (f" AND t.{tf['id']} <> %s" if exclude_pk else "")
                + f" ORDER BY t.{tf['created_at']} DESC LIMIT 1)"
            )
        joins = f"{qn(P.db_table)} p INNER JOIN {qn(U.db_table)} u ON u.{uf['id']} = p.{pf['user']}"
        scope = f"p.{pf['tier']} = %s" + (
            f" OR (p.{pf['tier']} = %s AND p.{pf['region']} = %s)" if with_region else ""
        )
        self.scope_where = f"p.{pf['kind']} = %s AND u.{uf['is_active']} = %s AND ({scope})"
        self.lock_sql = (
            f"SELECT p.{pf['id']} FROM {joins} WHERE {self.scope_where}"
            f" ORDER BY p.{pf['id']} FOR UPDATE OF p"
        )
        where = f"p.{pf['id']} = ANY(%s)" if by_ids else self.scope_where
        self.read_sql = (
            f"SELECT p.{pf['tier']}, p.{pf['capacity']}, p.{pf['last_assigned_at']},"
            f" r.{qn(R.get_field('code').column)},"
            f" (SELECT {aggregate}(c.{qn(C.get_field('code').column)})"
            f" FROM {qn(through.db_table)} pc INNER JOIN {qn(C.db_table)} c"
            f" ON c.{qn(C.pk.column)} = pc.{th_competence}"
            f" WHERE pc.{th_profile} = p.{pf['id']}),"
            f" EXISTS(SELECT 1 FROM {qn(A.db_table)} a WHERE a.{af['agent']} = p.{pf['id']}"
            f" AND a.{af['starts_at']} <= %s AND a.{af['ends_at']} > %s),"
            f" (SELECT COUNT(*) FROM {qn(T.db_table)} t WHERE t.{tf['assignee']} = p.{pf['user']}"
            f" AND t.{tf['status']} IN ({open_marks})),"
            f" {previous_sql}, {self.users.sql}, {self.settings.sql}"
            f" FROM {joins}"
            f" LEFT OUTER JOIN {qn(S.db_table)} s ON s.{settings_user} = u.{uf['id']}"
            f" LEFT OUTER JOIN {qn(R.db_table)} r ON r.{qn(R.pk.column)} = p.{pf['region']}"
            f" WHERE {where} ORDER BY p.{pf['id']}"
        )
        self.settings_user = S.get_field("user")

    def rows(self, raw) -> list[Row]:
        result = []
        for values in raw:
            tier, capacity, last, region_code, codes, absent, load, previous = values[:8]
            user = self.users.build(values, 8)
            settings = self.settings.build(values, 8 + self.users.width)
            # Cached either way, as select_related does: asking for it reads nothing.
            cache_one_to_one(self.settings_user, user, settings)
            last = self.profiles.convert_one("last_assigned_at", last)
            result.append(
                Row(
                    user=user,
                    tier=tier,
                    capacity=capacity,
                    last_assigned_at=last,
                    region_code=region_code,
                    competence_codes=codes,
                    is_absent=bool(absent),
                    open_load=load or 0,
                    previous_assignee=previous,
                )
            )
        return result


def _scope_params(region_id) -> list:
    params = [AgentProfile.Kind.EXPERT.value, True, AgentProfile.Tier.CENTRAL.value]
    if region_id is not None:
        params += [AgentProfile.Tier.REGIONAL.value, region_id]
    return params


def read(*, region_id, now, lock: bool, previous_of, window_start) -> list[Row]:
    """The candidates of a ticket of this region (central support always among them).

    With `lock` on a database that has row locks, the profiles are locked
    first, in id order, by a statement of their own (see agent_infos). `previous_of` (a Ticket or None) and
    `window_start` (None: no follow-up window) ask for the requester's
    recent expert in the same statement.
    """
    by_ids = bool(lock and connection.features.has_select_for_update)
    previous, who = "none", None
    if previous_of is not None and window_start is not None:
        if previous_of.requester_id:
            previous, who = "id", previous_of.requester_id
        elif previous_of.requester_email:
            previous, who = "email", previous_of.requester_email
    exclude_pk = previous != "none" and previous_of.pk is not None
    shape = composed(_Shape, connection, by_ids, region_id is not None, previous, exclude_pk)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        if by_ids:
            cursor.execute(shape.lock_sql, _scope_params(region_id))
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return []
            where = [ids]
        else:
            where = _scope_params(region_id)
        params = [adapt(now), adapt(now), *[str(s) for s in OPEN_STATUSES]]
        if previous != "none":
            params += [adapt(window_start), who]
            if exclude_pk:
                params.append(previous_of.pk)
        cursor.execute(shape.read_sql, params + where)
        return shape.rows(cursor.fetchall())
