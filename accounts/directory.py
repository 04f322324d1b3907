"""The directory import: institutions, their staff and the agents, from CSV files.

Operators load the country from three CSV files (docs/directory.md):

- institutions: ``code,name,kind,region,municipality,email_domains``
- memberships: ``email,full_name,institution_code,role``
- agents: ``email,full_name,tier,kind,region,competences,capacity``

UTF-8 with or without a byte-order mark, comma or semicolon (as Excel writes
it), one header row. Each line is upserted by its natural key (the institution
code; the e-mail address and the institution; the agent's e-mail address), so
running the same file twice changes nothing the second time.

The module has two halves:

- the pure half reads and checks lines: ``decode_lines``, ``read_table``,
  ``parse_institution`` / ``parse_membership`` / ``parse_agent`` (one line
  each) and ``parse`` (a whole file, with duplicates across lines). It takes
  what it needs to know about the database (known institution and competence
  codes) as arguments and never queries;
- the database half, ``run_import``, writes the valid lines in batches with
  bulk operations (lookups by set, bulk_create, bulk_update): the number of
  queries grows with the number of batches, not with the number of lines.

``accounts`` is below ``tickets`` in the import graph, so the competence model
is reached through the relation AgentProfile.competences, never imported.
"""

from __future__ import annotations

import csv
import itertools
import re
import secrets
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import rights_cache
from accounts.models import (
    AccountEvent,
    AgentProfile,
    Delegation,
    Institution,
    InstitutionDomain,
    Membership,
    Region,
    Role,
    User,
)
from accounts.regions import REGIONS, ensure_regions
from accounts.services import end_delegations

KINDS = ("institutions", "memberships", "agents")

# Columns each kind needs in its header, and those it may leave out (a column
# left out leaves that field of existing rows as it is).
REQUIRED_COLUMNS = {
    "institutions": ("code", "name", "kind", "region"),
    "memberships": ("email", "full_name", "institution_code", "role"),
    "agents": ("email", "full_name", "tier", "kind", "region", "competences", "capacity"),
}
OPTIONAL_COLUMNS = {
    "institutions": ("municipality", "email_domains"),
    "memberships": (),
    "agents": (),
}

REGION_CODES = frozenset(code for code, _name, _name_en in REGIONS)
# Plain strings, looked up once: the choices' enum machinery is slow per line.
INSTITUTION_KINDS = tuple(str(v) for v in Institution.Kind.values)
ROLES = tuple(str(v) for v in Role.values)
TIERS = tuple(str(v) for v in AgentProfile.Tier.values)
AGENT_KINDS = tuple(str(v) for v in AgentProfile.Kind.values)
REGIONAL, CENTRAL = str(AgentProfile.Tier.REGIONAL), str(AgentProfile.Tier.CENTRAL)
EXPERT = str(AgentProfile.Kind.EXPERT)
DEFAULT_CAPACITY = 15
MAX_CAPACITY = 1000
# Lines written per transaction.
BATCH_SIZE = 1000
# Values per `IN (...)` lookup: below every backend's limit on parameters.
LOOKUP_CHUNK = 900
# Where changes made by an import come from, in AccountEvent details.
SOURCE = "directory"

_DOMAIN_RE = re.compile(
    r"^(?=.{4,190}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$"
)
_LIST_SEPARATORS = re.compile(r"[\s,;|]+")
# Addresses this matches are valid for Django's validate_email too (a subset of
# what it accepts); the others go through validate_email, which is slower.
_PLAIN_EMAIL_RE = re.compile(
    r"^[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)


# --------------------------------------------------------------------------- results


class DirectoryFileError(Exception):
    """The file as a whole cannot be read (not UTF-8, no header, a missing column)."""


@dataclass(frozen=True)
class LineError:
    """Why one line (or one field of it) was refused."""

    line: int
    column: str | None
    position: int | None
    reason: str

    def __str__(self) -> str:
        if self.column:
            where = _("line %(line)d, column %(position)d (%(column)s)") % {
                "line": self.line,
                "position": self.position or 0,
                "column": self.column,
            }
        else:
            where = _("line %(line)d") % {"line": self.line}
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Change:
    """One thing an import creates, changes or removes, for the report."""

    action: str  # "created", "updated" or "removed"
    line: int | None
    key: str
    detail: str = ""

    def __str__(self) -> str:
        where = _("line %(line)d") % {"line": self.line} if self.line else "—"
        text = f"{where}: {self.key}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class Report:
    """What an import did (or, in a dry run, would do)."""

    kind: str
    dry_run: bool = False
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[LineError] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    changes_left_out: int = 0
    notes: list[str] = field(default_factory=list)
    written: bool = False
    max_changes: int | None = 200

    @property
    def refused_lines(self) -> int:
        return len({e.line for e in self.errors})

    def summary(self) -> dict[str, int]:
        """The counts, in the order of the last line the command prints."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "errors": self.refused_lines,
        }

    def count(self, action: str, line: int | None, key: str, detail: str = "") -> None:
        setattr(self, action, getattr(self, action) + 1)
        if action == "unchanged":
            return
        if self.max_changes is None or len(self.changes) < self.max_changes:
            self.changes.append(Change(action, line, key, detail))
        else:
            self.changes_left_out += 1


# --------------------------------------------------------------------------- reading


def decode_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Yield the text lines of a UTF-8 file given as lines of bytes; drop a leading BOM.

    Raises DirectoryFileError naming the first line that is not UTF-8.
    """
    for number, raw in enumerate(chunks, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DirectoryFileError(
                _(
                    "Line %(line)d is not UTF-8 text. Save the file as “CSV UTF-8” "
                    "(in Excel: Save as → CSV UTF-8 (Comma delimited))."
                )
                % {"line": number}
            )


def sniff_delimiter(header_line: str) -> str:
    """Return ';' when the header line is separated by semicolons, else ','."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


@dataclass
class Table:
    """A CSV file opened: its header (lower-cased names), separator and data records."""

    header: tuple[str, ...]
    delimiter: str
    records: Iterator[tuple[int, list[str]]]


def read_table(lines: Iterable[str]) -> Table:
    """Open CSV text lines: sniff the separator, read the header, yield (line, fields).

    Line numbers are those of the file (the header is line 1 when it comes
    first); a record spanning several lines (a quoted line break) carries the
    number of its first line. Blank lines are skipped.
    """
    lines = iter(lines)
    skipped = 0  # blank lines before the header
    for first in lines:
        if first.strip():
            break
        skipped += 1
    else:
        raise DirectoryFileError(_("The file is empty: it needs a header row."))
    first = first.lstrip("\ufeff")
    delimiter = sniff_delimiter(first)
    reader = csv.reader(itertools.chain([first], lines), delimiter=delimiter, strict=False)
    try:
        header = tuple(name.strip().lower() for name in next(reader))
    except csv.Error as error:
        raise DirectoryFileError(_("The header row cannot be read: %(e)s") % {"e": error})

    def records() -> Iterator[tuple[int, list[str]]]:
        offset = skipped
        previous = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise DirectoryFileError(
                    _("Line %(line)d cannot be read: %(e)s")
                    % {"line": reader.line_num + offset, "e": error}
                )
            start = previous + 1
            previous = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            yield start + offset, fields

    return Table(header=header, delimiter=delimiter, records=records())


def check_header(kind: str, header: tuple[str, ...]) -> dict[str, int]:
    """Return {column name: 1-based position} for the known columns of `kind`.

    Raises DirectoryFileError when a required column is missing or a name repeats.
    """
    if kind not in KINDS:
        raise DirectoryFileError(_("Unknown kind %(kind)s.") % {"kind": kind})
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise DirectoryFileError(
            _("The header names a column twice: %(names)s.") % {"names": ", ".join(repeated)}
        )
    missing = [name for name in REQUIRED_COLUMNS[kind] if name not in header]
    if missing:
        raise DirectoryFileError(
            _("The header lacks the column(s) %(missing)s; a %(kind)s file has %(columns)s.")
            % {
                "missing": ", ".join(missing),
                "kind": kind,
                "columns": ",".join(REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind]),
            }
        )
    known = set(REQUIRED_COLUMNS[kind]) | set(OPTIONAL_COLUMNS[kind])
    return {name: i for i, name in enumerate(header, start=1) if name in known}


# --------------------------------------------------------------------------- one line


@dataclass(frozen=True)
class InstitutionRow:
    line: int
    code: str
    name: str
    kind: str
    region: str
    municipality: str | None = None  # None: column absent, leave as it is
    domains: tuple[str, ...] | None = None  # None: column absent, leave as they are

    @property
    def key(self) -> str:
        return self.code


@dataclass(frozen=True)
class MembershipRow:
    line: int
    email: str
    full_name: str
    institution_code: str
    role: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.email, self.institution_code)


@dataclass(frozen=True)
class AgentRow:
    line: int
    email: str
    full_name: str
    tier: str
    kind: str
    region: str | None
    competences: tuple[str, ...]
    capacity: int

    @property
    def key(self) -> str:
        return self.email


class _Line:
    """Collects the errors of one line, each with its column's name and position."""

    def __init__(self, line: int, values: dict[str, str], positions: dict[str, int]):
        self.line = line
        self.values = values
        self.positions = positions
        self.errors: list[LineError] = []

    def get(self, column: str) -> str:
        return self.values.get(column, "")

    def error(self, column: str | None, reason: str) -> None:
        position = self.positions.get(column) if column else None
        self.errors.append(LineError(self.line, column, position, reason))


def _one_line_text(value: str) -> str:
    return " ".join(value.split())


def _choice(ln: _Line, column: str, choices, *, default: str | None = None) -> str | None:
    value = ln.get(column).strip().lower()
    if not value and default is not None:
        return default
    if not value:
        ln.error(column, _("is empty; expected one of %(c)s") % {"c": ", ".join(choices)})
        return None
    if value not in choices:
        ln.error(
            column,
            _("“%(v)s” is not one of %(c)s")
            % {"v": ln.get(column).strip(), "c": ", ".join(choices)},
        )
        return None
    return value


def _region(ln: _Line, column: str, *, required: bool) -> str | None:
    raw = ln.get(column).strip()
    if not raw:
        if required:
            ln.error(column, _("is empty; expected a region code 01–28"))
        return None
    # Excel turns "01" into 1: accept one digit and pad it.
    code = raw.zfill(2) if raw.isdigit() and len(raw) <= 2 else raw
    if code not in REGION_CODES:
        ln.error(column, _("“%(v)s” is not a region code 01–28") % {"v": raw})
        return None
    return code


def _email(ln: _Line, column: str) -> str | None:
    value = ln.get(column).strip().lower()
    if not value:
        ln.error(column, _("is empty; an e-mail address is required"))
        return None
    if not _PLAIN_EMAIL_RE.match(value):
        try:
            validate_email(value)
        except ValidationError:
            ln.error(column, _("“%(v)s” is not an e-mail address") % {"v": value})
            return None
    if len(value) > 254:
        ln.error(column, _("is longer than %(n)d characters") % {"n": 254})
        return None
    return value


def _text(ln: _Line, column: str, max_length: int, *, required: bool = False) -> str | None:
    value = _one_line_text(ln.get(column))
    if required and not value:
        ln.error(column, _("is empty"))
        return None
    if len(value) > max_length:
        ln.error(column, _("is longer than %(n)d characters") % {"n": max_length})
        return None
    return value


def _institution_code(ln: _Line, column: str) -> str | None:
    value = ln.get(column).strip()
    if not value:
        ln.error(column, _("is empty; expected a НЕИСПУО code"))
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 7:
        ln.error(column, _("“%(v)s” is not a НЕИСПУО code (up to 7 digits)") % {"v": value})
        return None
    return value


def _split_list(value: str) -> list[str]:
    return [item for item in _LIST_SEPARATORS.split(value.strip()) if item]


def _parse_with(fields: list[str], header: tuple[str, ...], positions: dict[str, int], line: int):
    values = {}
    for name, position in positions.items():
        values[name] = fields[position - 1] if position <= len(fields) else ""
    ln = _Line(line, values, positions)
    if len(fields) < len(header):
        ln.error(
            None,
            _("has %(found)d fields, the header has %(expected)d")
            % {"found": len(fields), "expected": len(header)},
        )
    elif len(fields) > len(header) and any(f.strip() for f in fields[len(header) :]):
        ln.error(
            None,
            _("has %(found)d fields, the header has %(expected)d")
            % {"found": len(fields), "expected": len(header)},
        )
    return ln


def parse_institution(
    line: int, fields: list[str], header: tuple[str, ...], positions: dict[str, int]
) -> InstitutionRow | list[LineError]:
    """Return one institutions line read and checked, or its errors."""
    ln = _parse_with(fields, header, positions, line)
    code = _institution_code(ln, "code")
    name = _text(ln, "name", 255, required=True)
    kind = _choice(ln, "kind", INSTITUTION_KINDS)
    region = _region(ln, "region", required=True)
    municipality = _text(ln, "municipality", 80) if "municipality" in positions else None
    domains = None
    if "email_domains" in positions:
        domains = []
        for item in _split_list(ln.get("email_domains").lower()):
            domain = item.lstrip("@")
            if not _DOMAIN_RE.match(domain):
                ln.error("email_domains", _("“%(v)s” is not an e-mail domain") % {"v": item})
            elif domain not in domains:
                domains.append(domain)
        domains = tuple(sorted(domains))
    if ln.errors:
        return ln.errors
    return InstitutionRow(line, code, name, kind, region, municipality, domains)


def parse_membership(
    line: int,
    fields: list[str],
    header: tuple[str, ...],
    positions: dict[str, int],
    institution_codes: Collection[str] | None = None,
) -> MembershipRow | list[LineError]:
    """Return one memberships line read and checked, or its errors.

    With `institution_codes`, an institution the helpdesk does not know is an error.
    """
    ln = _parse_with(fields, header, positions, line)
    email = _email(ln, "email")
    full_name = _text(ln, "full_name", 150)
    code = _institution_code(ln, "institution_code")
    if code and institution_codes is not None and code not in institution_codes:
        ln.error(
            "institution_code",
            _("no institution has the code %(v)s; import the institutions first") % {"v": code},
        )
    role = _choice(ln, "role", ROLES)
    if ln.errors:
        return ln.errors
    return MembershipRow(line, email, full_name, code, role)


def parse_agent(
    line: int,
    fields: list[str],
    header: tuple[str, ...],
    positions: dict[str, int],
    competence_codes: Collection[str] | None = None,
) -> AgentRow | list[LineError]:
    """Return one agents line read and checked, or its errors.

    With `competence_codes`, a competence the helpdesk does not know is an error.
    """
    ln = _parse_with(fields, header, positions, line)
    email = _email(ln, "email")
    full_name = _text(ln, "full_name", 150)
    tier = _choice(ln, "tier", TIERS)
    kind = _choice(ln, "kind", AGENT_KINDS, default=EXPERT)
    region = _region(ln, "region", required=tier == REGIONAL)
    if tier == CENTRAL and ln.get("region").strip():
        ln.error("region", _("must be empty for central support"))
        region = None
    competences = []
    for code in _split_list(ln.get("competences").lower()):
        if competence_codes is not None and code not in competence_codes:
            ln.error("competences", _("unknown competence “%(v)s”") % {"v": code})
        elif code not in competences:
            competences.append(code)
    raw_capacity = ln.get("capacity").strip()
    capacity = DEFAULT_CAPACITY
    if raw_capacity:
        if not raw_capacity.isascii() or not raw_capacity.isdigit():
            ln.error("capacity", _("“%(v)s” is not a whole number") % {"v": raw_capacity})
        elif int(raw_capacity) > MAX_CAPACITY:
            ln.error("capacity", _("is more than %(n)d") % {"n": MAX_CAPACITY})
        else:
            capacity = int(raw_capacity)
    if kind == EXPERT and capacity < 1:
        ln.error("capacity", _("an expert's capacity must be at least 1"))
    if ln.errors:
        return ln.errors
    return AgentRow(
        line, email, full_name, tier, kind, region, tuple(sorted(competences)), capacity
    )


# --------------------------------------------------------------------------- whole file


@dataclass
class Parsed:
    """A file read and checked: the valid rows, the errors, and what prune must spare."""

    kind: str
    header: tuple[str, ...]
    delimiter: str
    lines: int = 0
    rows: list = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    # Keys that refused lines would have touched (institution codes): prune
    # leaves them alone. None: some refused line had no readable key, so prune
    # must not run at all.
    spared: set[str] | None = field(default_factory=set)


def _spare(parsed: Parsed, raw_code: str) -> None:
    code = raw_code.strip()
    if parsed.spared is None:
        return
    if code.isascii() and code.isdigit() and len(code) <= 7:
        parsed.spared.add(code)
    else:
        parsed.spared = None


def parse(
    kind: str,
    lines: Iterable[str],
    *,
    institution_codes: Collection[str] | None = None,
    competence_codes: Collection[str] | None = None,
) -> Parsed:
    """Read a whole file of `kind`; check every line and the lines against each other.

    A key (code, e-mail + institution, e-mail) or an e-mail domain given twice
    is refused on its second line. Raises DirectoryFileError when the file as a
    whole cannot be read.
    """
    table = read_table(lines)
    positions = check_header(kind, table.header)
    parsed = Parsed(kind=kind, header=table.header, delimiter=table.delimiter)
    seen: dict[object, int] = {}
    domain_lines: dict[str, int] = {}
    for line, fields in table.records:
        parsed.lines += 1
        if kind == "institutions":
            result = parse_institution(line, fields, table.header, positions)
        elif kind == "memberships":
            result = parse_membership(line, fields, table.header, positions, institution_codes)
        else:
            result = parse_agent(line, fields, table.header, positions, competence_codes)
        if isinstance(result, list):
            parsed.errors.extend(result)
            column = {"institutions": "code", "memberships": "institution_code"}.get(kind)
            if column:
                position = positions[column]
                _spare(parsed, fields[position - 1] if position <= len(fields) else "")
            continue
        key_column = {"institutions": "code", "memberships": "email", "agents": "email"}[kind]
        if result.key in seen:
            # Whole sentences, so that translations can agree in gender.
            if kind == "institutions":
                reason = _("the same code is already on line %(line)d")
            elif kind == "memberships":
                reason = _("the same person and institution are already on line %(line)d")
            else:
                reason = _("the same e-mail address is already on line %(line)d")
            reason = reason % {"line": seen[result.key]}
            parsed.errors.append(LineError(line, key_column, positions[key_column], reason))
            if kind == "institutions":
                _spare(parsed, result.code)
            elif kind == "memberships":
                _spare(parsed, result.institution_code)
            continue
        if kind == "institutions" and result.domains:
            taken = [d for d in result.domains if d in domain_lines]
            if taken:
                parsed.errors.extend(
                    LineError(
                        line,
                        "email_domains",
                        positions["email_domains"],
                        _("the domain %(d)s is already given to the institution on line %(line)d")
                        % {"d": d, "line": domain_lines[d]},
                    )
                    for d in taken
                )
                _spare(parsed, result.code)
                continue
            for d in result.domains:
                domain_lines[d] = line
        seen[result.key] = line
        parsed.rows.append(result)
    return parsed


# --------------------------------------------------------------------------- database


class Progress:
    """Told how many lines were written; the command shows it on a terminal."""

    def start(self, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _chunks(items: list, size: int = LOOKUP_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batches(rows: list, size: int) -> Iterator[list]:
    return _chunks(rows, max(1, size))


def _fetch(queryset, lookup: str, values: Iterable) -> list:
    """Return the rows of `queryset` whose `lookup` is in `values`, a chunk per query."""
    values = list(dict.fromkeys(values))
    out = []
    for chunk in _chunks(values):
        out.extend(queryset.filter(**{f"{lookup}__in": chunk}))
    return out


def _shown(value) -> str:
    return "—" if value is None or value == "" else str(value)


def _diff(pairs: list[tuple[str, object, object]]) -> str:
    return "; ".join(f"{name}: {_shown(old)} → {_shown(new)}" for name, old, new in pairs)


@dataclass
class _People:
    """E-mail → user id (None when created only in a dry run), kept across batches."""

    names: dict[str, str]
    ids: dict[str, int | None] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)


def _resolve_people(people: _People, emails: Iterable[str], *, dry_run: bool) -> None:
    """Find or create the people with these e-mail addresses; give them the file's names.

    A person appears on several lines (one per institution): the name is the
    last non-empty one in the file, so that a second run finds nothing to change.
    """
    missing = [e for e in dict.fromkeys(emails) if e not in people.ids]
    if not missing:
        return
    # Tuples rather than model instances: cheaper by far at 150,000 people.
    found = {
        email: (pk, full_name)
        for pk, email, full_name in _fetch(
            User.objects.values_list("id", "email", "full_name"), "email", missing
        )
    }
    to_create, to_rename = [], []
    for email in missing:
        name = people.names.get(email, "")
        if email not in found:
            people.created.add(email)
            if dry_run:
                people.ids[email] = None
            else:
                to_create.append(User(email=email, full_name=name, password=_unusable_password()))
            continue
        pk, old_name = found[email]
        people.ids[email] = pk
        if name and name != old_name:
            people.renamed[email] = old_name
            to_rename.append(User(pk=pk, full_name=name))
    if not dry_run:
        for user in User.objects.bulk_create(to_create):
            people.ids[user.email] = user.pk
        if to_rename:
            User.objects.bulk_update(to_rename, ["full_name"])


def _unusable_password() -> str:
    # What make_password(None) stores (staff log in with their edu.mon.bg
    # profile), without its per-character random.choice: 150,000 of them.
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20)


def _person_changes(people: _People, email: str) -> list[tuple[str, object, object]]:
    """The name change of this person, reported once (on the first line naming them)."""
    if email in people.renamed:
        return [("full_name", people.renamed.pop(email), people.names[email])]
    return []


def _ensure_regions(dry_run: bool) -> dict[str, int | None]:
    regions = dict(Region.objects.values_list("code", "id"))
    if not dry_run and not REGION_CODES <= regions.keys():
        regions = {code: r.pk for code, r in ensure_regions().items()}
    return regions


def _import_institutions(parsed: Parsed, report: Report, opts: _Options) -> None:
    regions = _ensure_regions(opts.dry_run)
    listed = {row.code for row in parsed.rows}
    for batch in _batches(parsed.rows, opts.batch_size):
        with transaction.atomic():
            existing = {
                i.code: i
                for i in _fetch(Institution.objects.all(), "code", [r.code for r in batch])
            }
            domains_of: dict[int, dict[str, InstitutionDomain]] = {}
            for d in _fetch(
                InstitutionDomain.objects.all(),
                "institution_id",
                [i.pk for i in existing.values()],
            ):
                domains_of.setdefault(d.institution_id, {})[d.domain] = d
            wanted = [d for r in batch if r.domains for d in r.domains]
            owner = {
                d.domain: d
                for d in _fetch(
                    InstitutionDomain.objects.select_related("institution"), "domain", wanted
                )
            }
            to_create, to_update, domain_plans = [], [], []
            for row in batch:
                institution = existing.get(row.code)
                values = {
                    "name": row.name,
                    "kind": row.kind,
                    "region_id": regions.get(row.region),
                    "is_active": True,
                }
                if row.municipality is not None:
                    values["municipality"] = row.municipality
                if institution is None:
                    institution = Institution(code=row.code, **values)
                    to_create.append(institution)
                    changes = []
                    action = "created"
                else:
                    changes = [
                        (name, getattr(institution, name), value)
                        for name, value in values.items()
                        if getattr(institution, name) != value
                    ]
                    for name, _old, value in changes:
                        setattr(institution, name, value)
                    if changes:
                        to_update.append(institution)
                    action = None
                    changes = [
                        ("region", _region_code(regions, old), _region_code(regions, new))
                        if name == "region_id"
                        else (name, old, new)
                        for name, old, new in changes
                    ]
                if row.domains is not None:
                    current = domains_of.get(institution.pk, {}) if institution.pk else {}
                    added = [d for d in row.domains if d not in current]
                    dropped = [d for d in current if d not in row.domains]
                    if added or dropped:
                        changes.append(
                            ("email_domains", " ".join(sorted(current)), " ".join(row.domains))
                        )
                        domain_plans.append((institution, added, [current[d] for d in dropped]))
                    for d in added:
                        other = owner.get(d)
                        if other is not None and other.institution.code not in listed:
                            report.notes.append(
                                _("line %(line)d: the domain %(d)s moves from %(other)s")
                                % {"line": row.line, "d": d, "other": other.institution}
                            )
                if action is None:
                    action = "updated" if changes else "unchanged"
                report.count(action, row.line, f"{row.code} {row.name}", _diff(changes))
            if not opts.dry_run:
                Institution.objects.bulk_create(to_create)
                if to_update:
                    Institution.objects.bulk_update(
                        to_update, ["name", "kind", "region_id", "municipality", "is_active"]
                    )
                    rights_cache.bump_directory()  # renamed, moved or (de)activated
                # Dropped domains go first, so that one can move between two
                # institutions of the same batch.
                stale = [d.pk for _i, _a, dropped in domain_plans for d in dropped]
                for chunk in _chunks(stale):
                    InstitutionDomain.objects.filter(pk__in=chunk).delete()
                moved, new = [], []
                for institution, added, _dropped in domain_plans:
                    for d in added:
                        if d in owner and owner[d].pk not in stale:
                            owner[d].institution_id = institution.pk
                            moved.append(owner[d])
                        else:
                            new.append(InstitutionDomain(institution=institution, domain=d))
                if moved:
                    InstitutionDomain.objects.bulk_update(moved, ["institution_id"])
                InstitutionDomain.objects.bulk_create(new)
        opts.progress.advance(len(batch))
    if opts.prune:
        _prune_institutions(parsed, report, opts, listed)


def _region_code(regions: dict[str, int | None], region_id) -> str:
    for code, pk in regions.items():
        if pk == region_id:
            return code
    return ""


def _prune_institutions(parsed: Parsed, report: Report, opts: _Options, listed: set[str]) -> None:
    """Deactivate the active institutions the file does not list (never delete them)."""
    if parsed.spared is None:
        report.notes.append(_prune_skipped_note())
        return
    keep = listed | parsed.spared
    absent = [
        (pk, code, name)
        for pk, code, name in Institution.objects.filter(is_active=True)
        .values_list("pk", "code", "name")
        .order_by("code")
        if code not in keep
    ]
    for _pk, code, name in absent:
        report.count("removed", None, f"{code} {name}", _("deactivated"))
    if not opts.dry_run:
        for chunk in _chunks([pk for pk, _c, _n in absent]):
            with transaction.atomic():
                Institution.objects.filter(pk__in=chunk).update(is_active=False)
                rights_cache.bump_directory()


def _prune_skipped_note() -> str:
    return _(
        "Nothing was pruned: a refused line has no readable institution code, so it is "
        "not known whom the file leaves out. Correct the file and import it again."
    )


def _import_memberships(parsed: Parsed, report: Report, opts: _Options) -> None:
    institutions = opts.institution_ids
    names: dict[str, str] = {}
    for row in parsed.rows:
        if row.full_name or row.email not in names:
            names[row.email] = row.full_name
    people = _People(names=names)
    for batch in _batches(parsed.rows, opts.batch_size):
        with transaction.atomic():
            _resolve_people(people, (r.email for r in batch), dry_run=opts.dry_run)
            user_ids = [people.ids[r.email] for r in batch if people.ids[r.email] is not None]
            existing = {
                (user_id, institution_id): (pk, role)
                for pk, user_id, institution_id, role in _fetch(
                    Membership.objects.values_list("id", "user_id", "institution_id", "role"),
                    "user_id",
                    user_ids,
                )
            }
            to_create, to_update, events = [], [], []
            for row in batch:
                user_id = people.ids[row.email]
                institution_id = institutions[row.institution_code]
                membership = existing.get((user_id, institution_id)) if user_id else None
                changes = _person_changes(people, row.email)
                key = f"{row.email} @ {row.institution_code}"
                if membership is None:
                    to_create.append((row, institution_id))
                    report.count("created", row.line, key, row.role)
                    continue
                pk, role = membership
                if role != row.role:
                    changes.append(("role", role, row.role))
                    events.append(
                        _membership_event(
                            opts,
                            institution_id,
                            "membership_changed",
                            row.email,
                            {"from": role, "to": row.role},
                        )
                    )
                    to_update.append(Membership(pk=pk, role=row.role))
                report.count("updated" if changes else "unchanged", row.line, key, _diff(changes))
            if not opts.dry_run:
                Membership.objects.bulk_create(
                    Membership(
                        user_id=people.ids[row.email], institution_id=institution_id, role=row.role
                    )
                    for row, institution_id in to_create
                )
                if to_update:
                    Membership.objects.bulk_update(to_update, ["role"])
                if to_create or to_update:
                    rights_cache.bump_directory()
                events.extend(
                    _membership_event(
                        opts, institution_id, "membership_added", row.email, {"role": row.role}
                    )
                    for row, institution_id in to_create
                )
                AccountEvent.objects.bulk_create(events)
        opts.progress.advance(len(batch))
    if opts.prune:
        _prune_memberships(parsed, report, opts, people)


def _membership_event(opts: _Options, institution_id: int, kind: str, email: str, detail: dict):
    return AccountEvent(
        actor=opts.actor,
        institution_id=institution_id,
        kind=kind,
        detail={"person": email, "source": SOURCE, **detail},
        created_at=opts.now,
    )


def _prune_memberships(parsed: Parsed, report: Report, opts: _Options, people: _People) -> None:
    """Remove memberships at the file's institutions that the file does not list.

    Only institutions named in the file are touched (a file for one region
    prunes nothing elsewhere), and none that a refused line names. The
    delegations the removed people hold at that institution end, recorded as
    revocations (accounts.services.end_delegations).
    """

    if parsed.spared is None:
        report.notes.append(_prune_skipped_note())
        return
    codes = {row.institution_code for row in parsed.rows} - parsed.spared
    institution_ids = [opts.institution_ids[c] for c in sorted(codes)]
    listed = {
        (people.ids[row.email], opts.institution_ids[row.institution_code])
        for row in parsed.rows
        if people.ids[row.email] is not None
    }
    # Plain tuples, not model instances: a national file touches 150,000 rows.
    gone = [
        m
        for m in _fetch(
            Membership.objects.order_by("institution__code", "user__email").values_list(
                "pk", "user_id", "institution_id", "role", "user__email", "institution__code"
            ),
            "institution_id",
            institution_ids,
        )
        if (m[1], m[2]) not in listed
    ]
    for _pk, _user_id, _institution_id, role, email, code in gone:
        report.count("removed", None, f"{email} @ {code}", role)
    if opts.dry_run:
        return
    for batch in _batches(gone, opts.batch_size):
        with transaction.atomic():
            pairs = {(user_id, institution_id) for _pk, user_id, institution_id, *_rest in batch}
            running = [
                d
                for d in _fetch(
                    Delegation.objects.filter(
                        revoked_at__isnull=True, valid_until__gt=opts.now
                    ).select_related("delegate"),
                    "delegate_id",
                    [user_id for _pk, user_id, *_rest in batch],
                )
                if (d.delegate_id, d.institution_id) in pairs
            ]
            end_delegations(
                running,
                actor=opts.actor,
                now=opts.now,
                reason="directory import: no longer a member of the institution",
            )
            for chunk in _chunks([pk for pk, *_rest in batch]):
                Membership.objects.filter(pk__in=chunk).delete()
            rights_cache.bump_directory()
            AccountEvent.objects.bulk_create(
                _membership_event(opts, institution_id, "membership_removed", email, {"role": role})
                for _pk, _user_id, institution_id, role, email, _code in batch
            )


def _import_agents(parsed: Parsed, report: Report, opts: _Options) -> None:
    regions = _ensure_regions(opts.dry_run)
    competence_ids = opts.competence_ids
    code_of = {pk: code for code, pk in competence_ids.items()}
    through = AgentProfile.competences.through
    people = _People(names={row.email: row.full_name for row in parsed.rows})
    for batch in _batches(parsed.rows, opts.batch_size):
        with transaction.atomic():
            _resolve_people(people, (r.email for r in batch), dry_run=opts.dry_run)
            user_ids = [people.ids[r.email] for r in batch if people.ids[r.email] is not None]
            profiles = {
                p.user_id: p for p in _fetch(AgentProfile.objects.all(), "user_id", user_ids)
            }
            held: dict[int, dict[int, int]] = {}
            for link in _fetch(
                through.objects.all(), "agentprofile_id", [p.pk for p in profiles.values()]
            ):
                held.setdefault(link.agentprofile_id, {})[link.competence_id] = link.pk
            to_create, to_update, links_plan = [], [], []
            for row in batch:
                user_id = people.ids[row.email]
                profile = profiles.get(user_id) if user_id else None
                values = {
                    "tier": row.tier,
                    "kind": row.kind,
                    "region_id": regions.get(row.region) if row.region else None,
                    "capacity": row.capacity,
                }
                wanted = {competence_ids[c] for c in row.competences}
                changes = _person_changes(people, row.email)
                if profile is None:
                    profile = AgentProfile(user_id=user_id, **values)
                    to_create.append((row, profile))
                    links_plan.append((profile, wanted, {}))
                    detail = ", ".join(
                        [row.tier, row.kind, row.region or "", " ".join(row.competences)]
                    )
                    report.count("created", row.line, row.email, detail)
                    continue
                for name, value in values.items():
                    old = getattr(profile, name)
                    if old != value:
                        if name == "region_id":
                            changes.append(("region", _region_code(regions, old), row.region or ""))
                        else:
                            changes.append((name, old, value))
                        setattr(profile, name, value)
                if any(name != "full_name" for name, _o, _n in changes):
                    to_update.append(profile)
                current = held.get(profile.pk, {})
                if set(current) != wanted:
                    changes.append(
                        (
                            "competences",
                            " ".join(sorted(code_of.get(c, "?") for c in current)),
                            " ".join(row.competences),
                        )
                    )
                    links_plan.append((profile, wanted, current))
                report.count(
                    "updated" if changes else "unchanged", row.line, row.email, _diff(changes)
                )
            if not opts.dry_run:
                for row, profile in to_create:
                    profile.user_id = people.ids[row.email]
                AgentProfile.objects.bulk_create([p for _r, p in to_create])
                if to_update:
                    AgentProfile.objects.bulk_update(
                        to_update, ["tier", "kind", "region_id", "capacity"]
                    )
                stale, new = [], []
                for profile, wanted, current in links_plan:
                    stale.extend(pk for c, pk in current.items() if c not in wanted)
                    new.extend(
                        through(agentprofile_id=profile.pk, competence_id=c)
                        for c in sorted(wanted)
                        if c not in current
                    )
                for chunk in _chunks(stale):
                    through.objects.filter(pk__in=chunk).delete()
                through.objects.bulk_create(new)
        opts.progress.advance(len(batch))


@dataclass
class _Options:
    dry_run: bool
    prune: bool
    batch_size: int
    actor: object
    now: object
    progress: Progress
    institution_ids: dict[str, int] = field(default_factory=dict)
    competence_ids: dict[str, int] = field(default_factory=dict)


def competence_model():
    """The competence model (tickets.Competence), reached without importing tickets."""
    return AgentProfile._meta.get_field("competences").related_model


def run_import(
    kind: str,
    lines: Iterable[str],
    *,
    dry_run: bool = False,
    prune: bool = False,
    all_or_nothing: bool = False,
    batch_size: int = BATCH_SIZE,
    actor=None,
    progress: Progress | None = None,
    max_changes: int | None = 200,
    now=None,
) -> Report:
    """Import the CSV text `lines` of `kind`; return the report.

    Every line is read and checked first. Then the valid lines are written in
    batches of `batch_size`, one transaction each; with `all_or_nothing`, the
    whole import is one transaction and nothing is written when any line was
    refused. `dry_run` writes nothing and counts what would change. `prune`
    removes what the file leaves out: memberships at the file's institutions
    (their delegations end), or institutions (deactivated). The report keeps
    the first `max_changes` changes (None: all). Raises DirectoryFileError when
    the file as a whole cannot be read, ValueError for a bad option.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if prune and kind == "agents":
        raise ValueError(_("--prune applies to institutions and memberships, not to agents."))
    opts = _Options(
        dry_run=dry_run,
        prune=prune,
        batch_size=batch_size,
        actor=actor,
        now=now or timezone.now(),
        progress=progress or Progress(),
    )
    known: dict[str, Collection[str] | None] = {}
    if kind == "memberships":
        opts.institution_ids = dict(Institution.objects.values_list("code", "id"))
        known["institution_codes"] = opts.institution_ids.keys()
    elif kind == "agents":
        opts.competence_ids = dict(competence_model().objects.values_list("code", "id"))
        known["competence_codes"] = opts.competence_ids.keys()
    parsed = parse(kind, lines, **known)
    report = Report(kind=kind, dry_run=dry_run, lines=parsed.lines, max_changes=max_changes)
    report.errors = parsed.errors
    if all_or_nothing and parsed.errors:
        report.notes.append(
            _("Nothing was imported: %(n)d line(s) refused and all-or-nothing was asked.")
            % {"n": report.refused_lines}
        )
        return report
    write = {
        "institutions": _import_institutions,
        "memberships": _import_memberships,
        "agents": _import_agents,
    }[kind]
    opts.progress.start(len(parsed.rows))
    try:
        # Cached rights (accounts.rights_cache): one directory bump in each
        # write transaction instead of one per membership or delegation.
        with rights_cache.directory_import():
            if all_or_nothing and not dry_run:
                with transaction.atomic():
                    write(parsed, report, opts)
            else:
                write(parsed, report, opts)
    finally:
        opts.progress.close()
    report.written = not dry_run
    return report


# --------------------------------------------------------------------------- logins


# AccountEvent kind: an edu.mon.bg login named institution codes the directory lacks.
UNKNOWN_AT_LOGIN = "login_unknown_institution"


def record_unknown_institutions(user, claimed: dict[str, str], unknown: Collection[str]) -> bool:
    """Record that `user` logged in naming institution codes the directory lacks.

    `claimed` is the role claim read as {code: role}. Returns False (and
    records nothing) when the person's last such record names the same codes,
    so that each new situation is recorded once, not every login.
    """
    codes = sorted(unknown)
    if not codes:
        return False
    last = (
        AccountEvent.objects.filter(kind=UNKNOWN_AT_LOGIN, detail__person=user.email)
        .order_by("-created_at", "-pk")
        .first()
    )
    if last is not None and last.detail.get("codes") == codes:
        return False
    AccountEvent.objects.create(
        actor=None,
        institution=None,
        kind=UNKNOWN_AT_LOGIN,
        detail={
            "person": user.email,
            "codes": codes,
            "roles": {code: claimed.get(code, "") for code in codes},
            "source": "oidc",
        },
    )
    return True


@dataclass(frozen=True)
class UnknownCode:
    """An institution code people named at login that the directory still lacks."""

    code: str
    people: tuple[tuple[str, str], ...]  # (e-mail, claimed role)
    first_seen: object
    last_seen: object


def unknown_login_codes() -> list[UnknownCode]:
    """Return the codes named at edu.mon.bg logins and still missing, latest first."""
    seen: dict[str, dict] = {}
    for detail, at in (
        AccountEvent.objects.filter(kind=UNKNOWN_AT_LOGIN)
        .order_by("created_at", "pk")
        .values_list("detail", "created_at")
    ):
        roles = detail.get("roles") or {}
        for code in detail.get("codes") or ():
            entry = seen.setdefault(code, {"people": {}, "first": at, "last": at})
            entry["people"][detail.get("person", "")] = roles.get(code, "")
            entry["last"] = at
    known = set(_fetch(Institution.objects.values_list("code", flat=True), "code", seen))
    found = [
        UnknownCode(code, tuple(sorted(entry["people"].items())), entry["first"], entry["last"])
        for code, entry in seen.items()
        if code not in known
    ]
    return sorted(found, key=lambda u: (u.last_seen, u.code), reverse=True)


def has_rights(user) -> bool:
    """Return True if `user` may do anything here: staff, agent, or a member somewhere."""
    return bool(user.is_staff or user.is_agent or user.memberships.exists())
