"""Table-driven tests of the routing core (tickets.routing); plain data, no database."""

from datetime import UTC, datetime

import pytest

from tickets.routing import (
    QUEUE_ASSIGNED,
    QUEUE_COMPETENCE,
    QUEUE_TRIAGE,
    TIER_CENTRAL,
    TIER_REGIONAL,
    AgentInfo,
    CompetenceInfo,
    InstitutionInfo,
    RequestFacts,
    StaticDirectory,
    find_institution_code,
    guess_competence,
    normalize_text,
    pick_assignee,
    resolve_institution,
)
from tickets.routing import route as route_request

# A catalogue mirroring the competence areas of DOMAIN.md, in catalogue order.
LOGIN = CompetenceInfo("login", TIER_REGIONAL, ("вход", "парол", "профил", "edu.mon.bg", "акаунт"))
DELEGATION = CompetenceInfo("delegation", TIER_REGIONAL, ("делегир", "права", "оттегл"))
DIPLOMAS = CompetenceInfo(
    "diplomas", TIER_REGIONAL, ("диплом", "свидетелств", "регистър", "сканиран")
)
TRANSFER = CompetenceInfo(
    "transfer", TIER_REGIONAL, ("прехвърл", "стария регистър", "липсващи данни")
)
DUPLICATES = CompetenceInfo(
    "duplicates", TIER_REGIONAL, ("дублир", "дубликат", "преместване на ученик")
)
EDIARY = CompetenceInfo("ediary", TIER_REGIONAL, ("дневник", "доставчик", "външен софтуер"))
ACTIVITY_DOCS = CompetenceInfo(
    "activity_docs", TIER_REGIONAL, ("документи за дейността", "учебен план")
)
INSTITUTIONS = CompetenceInfo("institutions", TIER_REGIONAL, ("списък-образец",))
TECH = CompetenceInfo(
    "tech", TIER_CENTRAL, ("грешка", "не работи", "срив", "500", "недостъпн", "бавно")
)
GENERAL = CompetenceInfo("general", TIER_REGIONAL, (), "Обща консултация")

CATALOGUE = [
    LOGIN,
    DELEGATION,
    DIPLOMAS,
    TRANSFER,
    DUPLICATES,
    EDIARY,
    ACTIVITY_DOCS,
    INSTITUTIONS,
    TECH,
    GENERAL,
]

SOU_SOFIA = InstitutionInfo(1, "2206409", "22", ("119sou.bg",))
PMG_PLOVDIV = InstitutionInfo(2, "1600123", "16", ("pmg-plovdiv.org",))
DG_RUSE = InstitutionInfo(3, "1800456", "18")  # no experts in region 18
OU_VT = InstitutionInfo(4, "403071", "04", ("ou-vt.com",))

DIRECTORY = StaticDirectory([SOU_SOFIA, PMG_PLOVDIV, DG_RUSE, OU_VT])

EARLY = datetime(2026, 1, 5, 9, tzinfo=UTC)
LATE = datetime(2026, 1, 5, 15, tzinfo=UTC)


def agent(id, tier=TIER_REGIONAL, region="22", competences=("diplomas",), **kw):
    kw.setdefault("capacity", 10)
    kw.setdefault("open_load", 0)
    return AgentInfo(
        id=id,
        name=f"agent{id}",
        tier=tier,
        region_code=region,
        competences=frozenset(competences),
        **kw,
    )


AGENTS = [
    agent(10, competences={"login", "diplomas"}, open_load=3),
    agent(11, competences={"diplomas", "delegation"}, open_load=5),
    agent(12, competences={"login"}, capacity=5, open_load=5),  # full
    agent(13, competences={"delegation"}, absent=True),
    agent(14, region="16", competences={"login", "diplomas", "delegation"}, capacity=8),
    agent(15, region="04", competences={"duplicates"}, capacity=4, open_load=4),  # full
    agent(
        20,
        tier=TIER_CENTRAL,
        region=None,
        competences={"tech"},
        capacity=20,
        open_load=4,
        last_assigned_at=LATE,
    ),
    agent(
        21,
        tier=TIER_CENTRAL,
        region=None,
        competences={"tech"},
        capacity=20,
        open_load=4,
        last_assigned_at=EARLY,
    ),
    agent(22, tier=TIER_CENTRAL, region=None, competences=(), capacity=10),
]


# --- normalize_text ----------------------------------------------------------

NORMALIZE_CASES = [
    ("Дипломата, моля!", "дипломата моля"),
    ("ЙОРДАН Ёлка", "йордан ёлка"),
    ("и\u0306од", "йод"),  # decomposed й is composed, not stripped
    ("списък-образец", "списък образец"),
    ("ivan@edu.mon.bg", "ivan edu mon bg"),
    ("a_b--c\t\n d", "a b c d"),
    ("  ...  ", ""),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE_CASES)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


# --- guess_competence --------------------------------------------------------

DIPLOMA_AS_WORD = CompetenceInfo("diplomas", TIER_REGIONAL, ("диплома",))
RIGHTS_AS_WORD = CompetenceInfo("delegation", TIER_REGIONAL, ("права",))

# (id, subject, text, catalogue, expected code, expected matched keywords)
GUESS_CASES = [
    (
        "login keywords",
        "Не мога да вляза",
        "Забравена парола за профила в edu.mon.bg",
        CATALOGUE,
        "login",
        ["парол", "профил", "edu.mon.bg"],
    ),
    ("stem in subject", "Въвеждане на дипломи", "", CATALOGUE, "diplomas", ["диплом"]),
    (
        "word keyword, article",
        "",
        "Не се записва дипломата",
        [DIPLOMA_AS_WORD],
        "diplomas",
        ["диплома"],
    ),
    ("word keyword, plural", "", "Всички дипломи", [DIPLOMA_AS_WORD], "diplomas", ["диплома"]),
    (
        "word keyword, plural article",
        "",
        "дипломите на випуска",
        [DIPLOMA_AS_WORD],
        "diplomas",
        ["диплома"],
    ),
    ("rights not правопис", "", "правописни грешки", [RIGHTS_AS_WORD], None, []),
    ("rights inflected", "", "Правата на заместника", [RIGHTS_AS_WORD], "delegation", ["права"]),
    ("rights not правилно", "", "Не се показва правилно", [RIGHTS_AS_WORD], None, []),
    (
        "subject weighs double",
        "Делегиране на права",
        "вход, парола, профил",
        CATALOGUE,
        "delegation",
        ["делегир", "права"],
    ),
    (
        "text majority wins",
        "Въпрос",
        "Делегирах права, но при вход паролата и профилът не",
        CATALOGUE,
        "login",
        ["вход", "парол", "профил"],
    ),
    ("tie goes to catalogue order", "", "диплома и дневник", CATALOGUE, "diplomas", ["диплом"]),
    ("nothing matches", "Здравейте", "Имам въпрос относно графика", CATALOGUE, None, []),
    ("general area never guessed", "Обща консултация", "", CATALOGUE, None, []),
    ("upper case and number", "ГРЕШКА 500", "", CATALOGUE, "tech", ["грешка", "500"]),
    (
        "phrase with inflected verb",
        "",
        "Модулът не работят от сутринта",
        CATALOGUE,
        "tech",
        ["не работи"],
    ),
    ("short token is whole word", "", "нещо работи", CATALOGUE, None, []),
    ("number is whole word", "", "училище 5001234", CATALOGUE, None, []),
    ("hyphenated keyword", "Списък образец", "", CATALOGUE, "institutions", ["списък-образец"]),
    (
        "phrase beats single word",
        "",
        "прехвърлените данни от стария регистър",
        CATALOGUE,
        "transfer",
        ["прехвърл", "стария регистър"],
    ),
    (
        "multi word phrase",
        "",
        "Преместване на ученика в друго училище",
        CATALOGUE,
        "duplicates",
        ["преместване на ученик"],
    ),
    (
        "e-diary vendor",
        "Електронен дневник",
        "Доставчикът ни няма достъп",
        CATALOGUE,
        "ediary",
        ["дневник", "доставчик"],
    ),
    (
        "central tier by keyword",
        "Системата е недостъпна",
        "срив",
        CATALOGUE,
        "tech",
        ["срив", "недостъпн"],
    ),
]


@pytest.mark.parametrize(
    ("subject", "text", "catalogue", "code", "matched"),
    [case[1:] for case in GUESS_CASES],
    ids=[case[0] for case in GUESS_CASES],
)
def test_guess_competence(subject, text, catalogue, code, matched):
    competence, keywords = guess_competence(subject, text, catalogue)
    assert (competence.code if competence else None) == code
    assert keywords == matched


# --- find_institution_code ---------------------------------------------------

CODE_CASES = [
    ("after код", "Нашият код 2206409", ["2206409"]),
    ("after НЕИСПУО код:", "НЕИСПУО код: 1000123", ["1000123"]),
    ("after код по НЕИСПУО", "код по НЕИСПУО 403071", ["403071"]),
    ("inflected код", "кодът на училището ни е 2206409", ["2206409"]),
    ("english", "school code 1600123", ["1600123"]),
    ("marked code first", "Училище 403071, код 2206409", ["2206409", "403071"]),
    ("bare 7 digits", "ОУ 1800456 пише", ["1800456"]),
    ("bare short number ignored", "имаме 12345 ученици", []),
    ("phone with spaces", "тел. 0888 123 456", []),
    ("phone then code", "тел. 0888 123 456, код 2206409", ["2206409"]),
    ("international phone", "+359 2 123 4567", []),
    ("phone with slash", "02/981 23 45", []),
    ("bare mobile", "звънете на 0888123456", []),
    ("date and year", "на 12.05.2025 г., през 2026 г.", []),
    ("iso date", "2026-01-10", []),
    ("ticket reference", "Отг. на 26-000123 за училище", []),
    ("ticket reference in subject", "[НЕИСПУО-26-000123] Re: проблем", []),
    ("postal code after гр.", "гр. София 1000", []),
    ("postal code after п.к.", "п.к. 1700", []),
    ("postal code with пощенски код", "пощенски код 1700", []),
    ("code after town", "СУ гр. Плевен, код 1500321", ["1500321"]),
    ("http error code", "грешка с код 500", []),
    ("amount", "платихме 123456 лв.", []),
    ("outgoing number", "изх. № 1234567", []),
    ("official address", "info-2206409@edu.mon.bg", ["2206409"]),
    ("repeated once", "код 2206409, пак 2206409", ["2206409"]),
    ("too long", "ЕИК 123456789", []),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in CODE_CASES],
    ids=[case[0] for case in CODE_CASES],
)
def test_find_institution_code(text, expected):
    assert find_institution_code(text) == expected


# --- resolve_institution -----------------------------------------------------


def facts(
    institution=None,
    competence=None,
    subject="",
    text="",
    sender=None,
    previous=None,
):
    return RequestFacts(
        institution=institution,
        competence_code=competence,
        subject=subject,
        text=text,
        sender_email=sender,
        previous_assignee_id=previous,
    )


# A school whose own domain is a bare top-level domain: a mistake in the
# directory that must not claim every sender under .bg.
TLD_OWNER = InstitutionInfo(5, "2299999", "22", ("bg",))
RESOLVE_DIRECTORY = StaticDirectory([SOU_SOFIA, PMG_PLOVDIV, DG_RUSE, OU_VT, TLD_OWNER])

# (id, facts, expected institution, the reason as the ticket history shows it)
RESOLVE_CASES = [
    (
        "given",
        facts(institution=OU_VT, sender="x@119sou.bg"),
        OU_VT,
        "institution 403071 given with request",
    ),
    (
        "own domain",
        facts(sender="director@119sou.bg"),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "subdomain",
        facts(sender="ivan@mail.pmg-plovdiv.org"),
        PMG_PLOVDIV,
        "institution 1600123 from sender domain pmg-plovdiv.org",
    ),
    (
        "upper case domain",
        facts(sender="Ivan@PMG-Plovdiv.ORG"),
        PMG_PLOVDIV,
        "institution 1600123 from sender domain pmg-plovdiv.org",
    ),
    (
        "display name",
        facts(sender="Иван Петров <ivan@119sou.bg>"),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "comment after the address",
        facts(sender="ivan@119sou.bg (Иван Петров)"),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "domain with a final dot",
        facts(sender="ivan@119sou.bg."),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "unparsable address, domain after the last @",
        facts(sender="ivan@home@119sou.bg"),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "unparsable address in angle brackets",
        facts(sender="<ivan@home@119sou.bg> "),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "domain beats code in text",
        facts(sender="a@119sou.bg", text="код 1600123"),
        SOU_SOFIA,
        "institution 2206409 from sender domain 119sou.bg",
    ),
    (
        "public domain, code in text",
        facts(sender="school@abv.bg", text="код 1800456"),
        DG_RUSE,
        "institution 1800456 from code in text",
    ),
    (
        "gmail, code in subject",
        facts(sender="x@gmail.com", subject="ОУ 403071: вход"),
        OU_VT,
        "institution 403071 from code in text",
    ),
    (
        "public domain, nothing else",
        facts(sender="x@abv.bg", text="помощ"),
        None,
        "institution unknown",
    ),
    ("subdomain of public domain", facts(sender="x@inbox.abv.bg"), None, "institution unknown"),
    (
        "a top-level domain is no candidate",
        facts(sender="x@nowhere.bg"),
        None,
        "institution unknown",
    ),
    (
        "official address with code",
        facts(sender="info-2206409@edu.mon.bg"),
        SOU_SOFIA,
        "institution 2206409 from sender address",
    ),
    (
        "official address that is a code",
        facts(sender="1600123@edu.mon.bg"),
        PMG_PLOVDIV,
        "institution 1600123 from sender address",
    ),
    (
        "code glued to letters is no code",
        facts(sender="sou2206409@edu.mon.bg"),
        None,
        "institution unknown",
    ),
    (
        "address code not in directory, code in text",
        facts(sender="info-9999999@edu.mon.bg", text="код 1800456"),
        DG_RUSE,
        "institution 1800456 from code in text",
    ),
    (
        "official personal address",
        facts(sender="ivan.petrov@edu.mon.bg"),
        None,
        "institution unknown",
    ),
    (
        "unknown code named",
        facts(text="код 9999999"),
        None,
        "institution unknown: code 9999999 not in directory",
    ),
    (
        "unknown codes named",
        facts(subject="код 9999999", text="или 8888888"),
        None,
        "institution unknown: code 9999999, 8888888 not in directory",
    ),
    (
        "second code found",
        facts(text="код 9999999, или 1600123"),
        PMG_PLOVDIV,
        "institution 1600123 from code in text",
    ),
    ("no sender", facts(text="здравейте"), None, "institution unknown"),
    ("sender without domain", facts(sender="postmaster"), None, "institution unknown"),
    ("sender with empty domain", facts(sender="postmaster@"), None, "institution unknown"),
]


@pytest.mark.parametrize(
    ("request_facts", "expected", "reason"),
    [case[1:] for case in RESOLVE_CASES],
    ids=[case[0] for case in RESOLVE_CASES],
)
def test_resolve_institution(request_facts, expected, reason):
    assert resolve_institution(request_facts, RESOLVE_DIRECTORY) == (expected, reason)


def test_static_directory_looks_up_codes_and_domains():
    directory = StaticDirectory(
        [InstitutionInfo(7, "2200777", "22", (" School.BG ", "mail.school.bg")), OU_VT]
    )
    assert directory.institution_by_code("2200777").id == 7
    assert directory.institution_by_code("403071") is OU_VT
    assert directory.institution_by_code("9999999") is None
    assert directory.institution_by_domain("school.bg").id == 7
    assert directory.institution_by_domain("SCHOOL.bg").id == 7
    assert directory.institution_by_domain("mail.school.bg").id == 7
    assert directory.institution_by_domain("ou-vt.com") is OU_VT
    assert directory.institution_by_domain("other.bg") is None


# --- pick_assignee -----------------------------------------------------------

T1 = datetime(2026, 1, 5, 9, tzinfo=UTC)
T2 = datetime(2026, 1, 5, 10, tzinfo=UTC)

# (id, candidates, region, competence, previous assignee, expected agent id)
PICK_CASES = [
    ("least loaded holder", AGENTS, "22", DIPLOMAS, None, 10),
    ("only holder in region", AGENTS, "16", DELEGATION, None, 14),
    ("absent skipped", AGENTS, "22", DELEGATION, None, 11),
    ("full skipped", AGENTS, "22", LOGIN, None, 10),
    ("everyone full", AGENTS, "04", DUPLICATES, None, None),
    ("nobody in region", AGENTS, "18", DIPLOMAS, None, None),
    ("nobody with competence", AGENTS, "22", EDIARY, None, None),
    ("region unknown", AGENTS, None, DIPLOMAS, None, None),
    ("other region ignored", [agent(1, region="16")], "22", DIPLOMAS, None, None),
    (
        "central agent not regional",
        [agent(1, tier=TIER_CENTRAL, region="22")],
        "22",
        DIPLOMAS,
        None,
        None,
    ),
    ("previous assignee wins", AGENTS, "22", DIPLOMAS, 11, 11),
    ("previous assignee full", AGENTS, "22", LOGIN, 12, 10),
    ("previous assignee absent", AGENTS, "22", DELEGATION, 13, 11),
    ("previous assignee other region", AGENTS, "22", DIPLOMAS, 14, 10),
    (
        "ratio, not raw load",
        [agent(1, capacity=10, open_load=3), agent(2, capacity=2, open_load=1)],
        "22",
        DIPLOMAS,
        None,
        1,
    ),
    (
        "small capacity, low ratio",
        [agent(1, capacity=10, open_load=6), agent(2, capacity=4, open_load=2)],
        "22",
        DIPLOMAS,
        None,
        2,
    ),
    (
        "equal ratio, least recent",
        [agent(1, open_load=2, last_assigned_at=T2), agent(2, open_load=2, last_assigned_at=T1)],
        "22",
        DIPLOMAS,
        None,
        2,
    ),
    (
        "exact ratio tie 3/6 and 1/2",
        [
            agent(1, capacity=6, open_load=3, last_assigned_at=T2),
            agent(2, capacity=2, open_load=1, last_assigned_at=T1),
        ],
        "22",
        DIPLOMAS,
        None,
        2,
    ),
    (
        "never assigned counts as oldest",
        [agent(1, last_assigned_at=T1), agent(2, last_assigned_at=None)],
        "22",
        DIPLOMAS,
        None,
        2,
    ),
    ("full tie by id", [agent(7), agent(3), agent(5)], "22", DIPLOMAS, None, 3),
    ("zero capacity never picked", [agent(1, capacity=0)], "22", DIPLOMAS, None, None),
    (
        "over capacity skipped",
        [agent(1, capacity=2, open_load=3), agent(2, open_load=9)],
        "22",
        DIPLOMAS,
        None,
        2,
    ),
    ("central holders, round robin", AGENTS, "22", TECH, None, 21),
    ("central ignores region", AGENTS, None, TECH, None, 21),
    ("central previous assignee", AGENTS, "22", TECH, 20, 20),
    ("central non-holder not picked", AGENTS, "22", TECH, 22, 21),
    (
        "central fallback to any central",
        [agent(1, tier=TIER_CENTRAL, region=None, competences=()), agent(2)],
        None,
        TECH,
        None,
        1,
    ),
    (
        "central holders all away",
        [
            agent(1, tier=TIER_CENTRAL, region=None, competences={"tech"}, absent=True),
            agent(2, tier=TIER_CENTRAL, region=None, competences=()),
        ],
        None,
        TECH,
        None,
        None,
    ),
    ("regional agent not central", [agent(1, competences={"tech"})], "22", TECH, None, None),
]


@pytest.mark.parametrize(
    ("candidates", "region", "competence", "previous", "expected"),
    [case[1:] for case in PICK_CASES],
    ids=[case[0] for case in PICK_CASES],
)
def test_pick_assignee(candidates, region, competence, previous, expected):
    chosen, reason = pick_assignee(candidates, region, competence, previous)
    assert (chosen.id if chosen else None) == expected
    if chosen:
        assert reason.startswith(f"assigned to {chosen.name}: ")
        assert f"load {chosen.open_load}/{chosen.capacity}" in reason
    else:
        assert reason.startswith("no assignee")


# (id, candidates, region, competence, previous assignee, the reason in full)
PICK_REASON_CASES = [
    (
        "least loaded",
        AGENTS,
        "22",
        DIPLOMAS,
        None,
        "assigned to agent10: load 3/10, least loaded of 2 experts of region 22 with diplomas",
    ),
    (
        "previous assignee",
        AGENTS,
        "22",
        DIPLOMAS,
        11,
        "assigned to agent11: previous assignee of requester, load 5/10",
    ),
    (
        "central holders",
        AGENTS,
        None,
        TECH,
        None,
        "assigned to agent21: load 4/20, least loaded of 2 central agents with tech",
    ),
    (
        "central fallback",
        [agent(1, tier=TIER_CENTRAL, region=None, competences=(), open_load=2)],
        None,
        TECH,
        None,
        "assigned to agent1: load 2/10, least loaded of 1 central agents (none holds tech)",
    ),
    ("region unknown", AGENTS, None, DIPLOMAS, None, "no assignee: region unknown"),
    (
        "nobody in region",
        AGENTS,
        "18",
        DIPLOMAS,
        None,
        "no assignee: no experts of region 18 with diplomas",
    ),
    (
        "no central agent",
        [agent(1, competences={"tech"})],
        "22",
        TECH,
        None,
        "no assignee: no central agents (none holds tech)",
    ),
    (
        "everyone full",
        AGENTS,
        "04",
        DUPLICATES,
        None,
        "no assignee among experts of region 04 with duplicates: "
        "1 qualified, 0 absent, 1 at capacity",
    ),
    (
        "absent and full counted apart",
        [
            agent(1, absent=True),
            agent(2, absent=True, open_load=10),
            agent(3, open_load=10),
            agent(4, capacity=2, open_load=3),
        ],
        "22",
        DIPLOMAS,
        None,
        "no assignee among experts of region 22 with diplomas: "
        "4 qualified, 2 absent, 2 at capacity",
    ),
]


@pytest.mark.parametrize(
    ("candidates", "region", "competence", "previous", "reason"),
    [case[1:] for case in PICK_REASON_CASES],
    ids=[case[0] for case in PICK_REASON_CASES],
)
def test_pick_assignee_reasons_read_as_history(candidates, region, competence, previous, reason):
    assert pick_assignee(candidates, region, competence, previous)[1] == reason


# --- route -------------------------------------------------------------------

# (id, facts, expected (region, competence, tier, assignee, queue))
ROUTE_CASES = [
    (
        "portal diploma in sofia",
        facts(
            institution=SOU_SOFIA, subject="Диплома", text="Сканираното изображение е отхвърлено"
        ),
        ("22", "diplomas", TIER_REGIONAL, 10, QUEUE_ASSIGNED),
    ),
    (
        "requester chose competence",
        facts(institution=SOU_SOFIA, competence="delegation", text="дневник"),
        ("22", "delegation", TIER_REGIONAL, 11, QUEUE_ASSIGNED),
    ),
    (
        "chosen general consultation kept",
        facts(institution=SOU_SOFIA, competence="general", text="диплома"),
        ("22", "general", TIER_REGIONAL, None, QUEUE_COMPETENCE),
    ),
    (
        "unknown chosen code falls back to keywords",
        facts(institution=PMG_PLOVDIV, competence="nosuch", text="забравена парола"),
        ("16", "login", TIER_REGIONAL, 14, QUEUE_ASSIGNED),
    ),
    (
        "mail from own domain",
        facts(sender="secretary@mail.pmg-plovdiv.org", subject="Делегиране на права"),
        ("16", "delegation", TIER_REGIONAL, 14, QUEUE_ASSIGNED),
    ),
    (
        "mail from abv.bg with code",
        facts(sender="ou@abv.bg", subject="Вход", text="Код по НЕИСПУО 2206409"),
        ("22", "login", TIER_REGIONAL, 10, QUEUE_ASSIGNED),
    ),
    (
        "technical fault goes central, region kept",
        facts(institution=SOU_SOFIA, subject="Грешка 500 при запис"),
        ("22", "tech", TIER_CENTRAL, 21, QUEUE_ASSIGNED),
    ),
    (
        "technical fault without institution still central",
        facts(sender="x@gmail.com", subject="Модулът не работи"),
        (None, "tech", TIER_CENTRAL, 21, QUEUE_ASSIGNED),
    ),
    (
        "region unknown goes to triage",
        facts(sender="x@gmail.com", subject="Дипломи"),
        (None, "diplomas", TIER_REGIONAL, None, QUEUE_TRIAGE),
    ),
    (
        "competence unknown goes to triage",
        facts(institution=SOU_SOFIA, subject="Въпрос", text="Здравейте, имам въпрос"),
        ("22", None, TIER_REGIONAL, None, QUEUE_TRIAGE),
    ),
    (
        "nothing known goes to triage",
        facts(subject="Здравейте"),
        (None, None, TIER_REGIONAL, None, QUEUE_TRIAGE),
    ),
    (
        "no expert in region",
        facts(institution=DG_RUSE, subject="Диплома"),
        ("18", "diplomas", TIER_REGIONAL, None, QUEUE_COMPETENCE),
    ),
    (
        "experts full",
        facts(institution=OU_VT, subject="Дублирани ученици"),
        ("04", "duplicates", TIER_REGIONAL, None, QUEUE_COMPETENCE),
    ),
    (
        "follow-up goes to previous agent",
        facts(institution=SOU_SOFIA, subject="Диплома", previous=11),
        ("22", "diplomas", TIER_REGIONAL, 11, QUEUE_ASSIGNED),
    ),
]


@pytest.mark.parametrize(
    ("request_facts", "expected"),
    [case[1:] for case in ROUTE_CASES],
    ids=[case[0] for case in ROUTE_CASES],
)
def test_route(request_facts, expected):
    decision = route_request(request_facts, DIRECTORY, CATALOGUE, AGENTS)
    got = (
        decision.region_code,
        decision.competence_code,
        decision.tier,
        decision.assignee_id,
        decision.queue,
    )
    assert got == expected
    assert decision.reasons, "every decision explains itself"
    assert (decision.queue == QUEUE_ASSIGNED) == (decision.assignee_id is not None)


def test_route_reasons_read_as_history():
    decision = route_request(
        facts(sender="ou@abv.bg", subject="Диплома", text="код 2206409"),
        DIRECTORY,
        CATALOGUE,
        AGENTS,
    )
    assert decision.institution == SOU_SOFIA
    assert decision.reasons == (
        "institution 2206409 from code in text",
        "region 22 from institution 2206409",
        "competence diplomas from keywords 'диплом'",
        "tier regional from competence diplomas",
        "assigned to agent10: load 3/10, least loaded of 2 experts of region 22 with diplomas",
    )


# (id, facts, every reason of the decision, in order)
ROUTE_REASON_CASES = [
    (
        "triage without region",
        facts(subject="Дипломи"),
        (
            "institution unknown",
            "region unknown",
            "competence diplomas from keywords 'диплом'",
            "tier regional from competence diplomas",
            "triage: region unknown",
        ),
    ),
    (
        "triage without competence",
        facts(institution=SOU_SOFIA, subject="Здравейте"),
        (
            "institution 2206409 given with request",
            "region 22 from institution 2206409",
            "competence not recognised",
            "triage: competence not recognised",
        ),
    ),
    (
        "chosen by requester",
        facts(institution=SOU_SOFIA, competence="delegation", text="дневник"),
        (
            "institution 2206409 given with request",
            "region 22 from institution 2206409",
            "competence delegation chosen by requester",
            "tier regional from competence delegation",
            "assigned to agent11: load 5/10, least loaded of 1 experts of region 22 with delegation",
        ),
    ),
    (
        "unknown choice, several keywords",
        facts(institution=PMG_PLOVDIV, competence="nosuch", text="забравена парола за профила"),
        (
            "institution 1600123 given with request",
            "region 16 from institution 1600123",
            "competence nosuch chosen by requester is not in catalogue",
            "competence login from keywords 'парол', 'профил'",
            "tier regional from competence login",
            "assigned to agent14: load 0/8, least loaded of 1 experts of region 16 with login",
        ),
    ),
    (
        "central tier, nobody in the competence queue",
        facts(institution=DG_RUSE, subject="Грешка"),
        (
            "institution 1800456 given with request",
            "region 18 from institution 1800456",
            "competence tech from keywords 'грешка'",
            "tier central from competence tech",
            "assigned to agent21: load 4/20, least loaded of 2 central agents with tech",
        ),
    ),
]


@pytest.mark.parametrize(
    ("request_facts", "reasons"),
    [case[1:] for case in ROUTE_REASON_CASES],
    ids=[case[0] for case in ROUTE_REASON_CASES],
)
def test_route_reasons(request_facts, reasons):
    assert route_request(request_facts, DIRECTORY, CATALOGUE, AGENTS).reasons == reasons
