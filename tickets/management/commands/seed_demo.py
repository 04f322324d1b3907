"""Fill an empty helpdesk with realistic demo data; running it again changes nothing."""

import datetime
import random
from dataclasses import dataclass

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    AgentProfile,
    Institution,
    InstitutionDomain,
    Membership,
    Role,
    User,
)
from accounts.regions import REGIONS, ensure_regions
from tickets import actions, sla
from tickets.businesstime import WorkCalendar, add_business_seconds
from tickets.catalogue import ensure_competences
from tickets.models import OPEN_STATUSES, CompetenceField, Priority, Status, Ticket

DEMO_PASSWORD = "demo12345"

PATRONS = [
    "Христо Ботев",
    "Васил Левски",
    "Иван Вазов",
    "Св. св. Кирил и Методий",
    "Паисий Хилендарски",
    "Св. Климент Охридски",
    "Никола Вапцаров",
    "Пейо Яворов",
    "Елин Пелин",
    "Йордан Йовков",
    "Димчо Дебелянов",
    "Христо Смирненски",
    "Любен Каравелов",
    "Георги Раковски",
    "Софроний Врачански",
    "Неофит Рилски",
    "Петко Р. Славейков",
    "Отец Паисий",
    "Св. Иван Рилски",
    "Алеко Константинов",
]
KINDERGARTENS = [
    "Слънце",
    "Звездичка",
    "Детелина",
    "Пролет",
    "Мечо Пух",
    "Щурче",
    "Калинка",
    "Радост",
    "Дъга",
    "Незабравка",
    "Буратино",
    "Изворче",
]
MUNICIPALITY_TOWNS = {
    "01": ["Благоевград", "Сандански", "Петрич"],
    "02": ["Бургас", "Несебър", "Поморие"],
    "03": ["Варна", "Провадия", "Девня"],
    "04": ["Велико Търново", "Горна Оряховица", "Свищов"],
    "05": ["Видин", "Белоградчик"],
    "06": ["Враца", "Мездра", "Козлодуй"],
    "07": ["Габрово", "Севлиево"],
    "08": ["Добрич", "Балчик", "Каварна"],
    "09": ["Кърджали", "Момчилград"],
    "10": ["Кюстендил", "Дупница"],
    "11": ["Ловеч", "Троян"],
    "12": ["Монтана", "Берковица", "Лом"],
    "13": ["Пазарджик", "Велинград", "Пещера"],
    "14": ["Перник", "Радомир"],
    "15": ["Плевен", "Червен бряг"],
    "16": ["Пловдив", "Асеновград", "Карлово"],
    "17": ["Разград", "Исперих"],
    "18": ["Русе", "Бяла"],
    "19": ["Силистра", "Тутракан"],
    "20": ["Сливен", "Нова Загора"],
    "21": ["Смолян", "Мадан"],
    "22": ["София"],
    "23": ["Ботевград", "Самоков", "Ихтиман"],
    "24": ["Стара Загора", "Казанлък", "Чирпан"],
    "25": ["Търговище", "Попово"],
    "26": ["Хасково", "Димитровград", "Харманли"],
    "27": ["Шумен", "Нови пазар"],
    "28": ["Ямбол", "Елхово"],
}
FIRST = [
    "Мария",
    "Иван",
    "Елена",
    "Георги",
    "Десислава",
    "Петър",
    "Милена",
    "Николай",
    "Йорданка",
    "Стоян",
    "Радка",
    "Димитър",
    "Весела",
    "Христо",
    "Силвия",
    "Калоян",
    "Гергана",
    "Тодор",
]
FEMALE = {
    "Мария",
    "Елена",
    "Десислава",
    "Милена",
    "Йорданка",
    "Радка",
    "Весела",
    "Силвия",
    "Гергана",
}
LAST_M = ["Иванов", "Петров", "Георгиев", "Димитров", "Николов", "Стоянов", "Христов", "Тодоров"]

# Fixed demo people: one login per role, listed in the README.
PEOPLE = [
    # email, name, kind, detail
    ("admin@mon.demo", "Администратор Системен", "admin", None),
    ("director@school.demo", "Мария Петрова", "staff", ("2206409", Role.DIRECTOR)),
    ("deputy@school.demo", "Николай Стоянов", "staff", ("2206409", Role.DEPUTY_DIRECTOR)),
    ("ict@school.demo", "Георги Димитров", "staff", ("2206409", Role.ICT_LEAD)),
    ("teacher@school.demo", "Елена Георгиева", "staff", ("2206409", Role.TEACHER)),
    ("secretary@school.demo", "Радка Тодорова", "staff", ("2206409", Role.SECRETARY)),
    ("teacher@plovdiv.demo", "Стоян Иванов", "staff", ("1600101", Role.TEACHER)),
    ("director@plovdiv.demo", "Весела Христова", "staff", ("1600101", Role.DIRECTOR)),
    (
        "expert.sofia@ruo.demo",
        "Десислава Николова",
        "expert",
        ("22", ["diplomas", "data_transfer", "duplicates", "general"]),
    ),
    (
        "expert2.sofia@ruo.demo",
        "Петър Тодоров",
        "expert",
        ("22", ["login", "delegation", "ediary", "activity_docs", "institutions", "general"]),
    ),
    (
        "expert.plovdiv@ruo.demo",
        "Милена Стоянова",
        "expert",
        (
            "16",
            [
                "diplomas",
                "login",
                "delegation",
                "duplicates",
                "data_transfer",
                "ediary",
                "activity_docs",
                "institutions",
                "general",
            ],
        ),
    ),
    (
        "expert.varna@ruo.demo",
        "Калоян Петров",
        "expert",
        (
            "03",
            [
                "diplomas",
                "login",
                "delegation",
                "duplicates",
                "data_transfer",
                "ediary",
                "activity_docs",
                "institutions",
                "general",
            ],
        ),
    ),
    ("central@mon.demo", "Тодор Христов", "central", ["technical", "ediary"]),
    ("central2@mon.demo", "Силвия Иванова", "central", ["technical"]),
    ("supervisor.sofia@ruo.demo", "Гергана Василева", "supervisor", "22"),
    ("supervisor@mon.demo", "Христо Андреев", "supervisor", None),
]

SAMPLE_REQUESTS = [
    (
        "diplomas",
        "Не мога да прикача сканирана диплома",
        "При въвеждане на диплома за завършено средно образование системата отхвърля сканираното "
        "изображение. Файлът е PDF, 4 MB. Какво да направя?",
    ),
    (
        "login",
        "Нов учител няма достъп до НЕИСПУО",
        "Назначихме нов учител по математика от 15.09. Как да получи служебен профил в edu.mon.bg?",
    ),
    (
        "delegation",
        "Делегиране на права на заместник-директор",
        "Искам да делегирам права на заместник-директора за периода на отпуска ми. Къде става това?",
    ),
    (
        "duplicates",
        "Ученик е записан два пъти",
        "Ученик от 5 б клас фигурира два пъти в списъка — веднъж от старата система. Как да изтрием "
        "дублирания запис?",
    ),
    (
        "data_transfer",
        "Липсват данни след прехвърлянето от стария регистър",
        "След прехвърлянето липсват издадените през 2019 г. свидетелства за основно образование.",
    ),
    (
        "ediary",
        "Съвместимост на електронния дневник",
        "Използваме външен електронен дневник. Как доставчикът да получи достъп до данните по договор?",
    ),
    (
        "technical",
        "Модулът за документи дава грешка 500",
        "От сутринта при отваряне на модула излиза грешка 500 и нищо не се зарежда.",
    ),
    (
        "institutions",
        "Списък-образец: не мога да добавя паралелка",
        "В кампанията по списък-образец бутонът за нова паралелка не е активен.",
    ),
    (
        "activity_docs",
        "Годишен план в документите за дейността",
        "В кой раздел на документите за дейността се качва годишният план?",
    ),
    (
        "general",
        "Въпрос за обучение за работа със системата",
        "Ще има ли обучение за новите функционалности за учителите?",
    ),
]
REPLIES = [
    "Благодаря, ще проверим и ще Ви отговорим до края на деня.",
    "Моля, изпратете снимка на екрана с грешката и точния час.",
    "Проблемът е отстранен, моля опитайте отново.",
    "Изпратих Ви инструкцията от базата знания — стъпките са описани подробно.",
]
QUESTIONS = [
    "Моля, изпратете снимка на екрана с грешката и точния час.",
    "Кой е ЛНЧ/номерът на документа, за който става дума?",
    "От кой профил влизате — служебния в edu.mon.bg или личен?",
]
ANSWERS = [
    "Изпращам снимката — грешката излиза при натискане на „Запис“.",
    "Номерът е 12345, документът е от юни 2024 г.",
    "Влизам със служебния профил.",
]
SOLUTIONS = [
    "Проблемът е отстранен, моля опитайте отново.",
    "Изпратих Ви инструкцията от базата знания — стъпките са описани подробно.",
    "Корекцията е направена в регистъра; данните вече се виждат.",
]

# A working week: how the demo's requests end up. About a third are still
# open (new, open, waiting); the rest were answered and resolved or closed.
FINAL_STATES = [
    (Status.NEW, 0.10),
    (Status.OPEN, 0.15),
    (Status.WAITING, 0.08),
    (Status.RESOLVED, 0.17),
    (Status.CLOSED, 0.50),
]
# Of the requests still waiting on support (new, open) this share is past a
# due time; of those answered, this share was resolved late.
LATE_OPEN = 0.08
LATE_DONE = 0.10
# Where requests come from: the regions with demo experts mostly, a few from
# anywhere (regions without a demo expert: those are new, waiting in the queue).
REGION_SHARES = [("22", 0.45), ("16", 0.25), ("03", 0.25), (None, 0.05)]
# Demo experts carry more than the default 15 open requests, as a busy week asks.
DEMO_CAPACITY = 30
# The school of the demo logins (director, teacher ...) files this share of its
# region's requests, so their portal pages have something to show.
DEMO_SCHOOL = "2206409"
DEMO_SCHOOL_SHARE = 0.25


@dataclass
class Plan:
    """One demo request: who files what, how it ends, how old it is (business seconds)."""

    membership: Membership
    code: str
    state: str
    late: bool
    age: float
    when: datetime.datetime | None = None


def business_before(moment: datetime.datetime, seconds: float, cal: WorkCalendar):
    """Return the instant `seconds` of working time before `moment`."""
    day = timezone.localtime(moment, cal.zone).date()
    remaining = seconds
    for _day in range(3650):
        hours = cal.opening_hours(day)
        if hours is not None:
            opens, closes = hours
            closes = min(closes, moment)
            available = (closes - opens).total_seconds()
            if available > 0:
                if remaining <= available:
                    return closes - datetime.timedelta(seconds=remaining)
                remaining -= available
        day -= datetime.timedelta(days=1)
    raise ValueError("the calendar has no working days")


class Command(BaseCommand):
    help = "Create demo regions, institutions, people, agents and tickets (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--institutions", type=int, default=300)
        parser.add_argument("--tickets", type=int, default=300)

    def handle(self, *args, institutions, tickets, **options):
        rng = random.Random(2022)
        with transaction.atomic():
            regions = ensure_regions()
            competences = ensure_competences()
            self._institutions(rng, regions, institutions)
            self._people(regions, competences)
            self._staff(rng)
            self._competence_fields(competences)
        created = self._tickets(rng, competences, tickets)
        try:
            call_command("load_kb", verbosity=0)
        except Exception as exc:
            self.stderr.write(f"knowledge base not loaded: {exc}")
        self.stdout.write(
            self.style.SUCCESS(
                f"demo data ready: {Institution.objects.count()} institutions, "
                f"{User.objects.count()} people, {created} new tickets "
                f"(password for every demo login: {DEMO_PASSWORD})"
            )
        )

    @staticmethod
    def _competence_fields(competences):
        """A few fields per competence (docs/tags-and-fields.md), optional so any filing works."""
        for code, key, label, label_en, kind, choices in [
            (
                "diplomas",
                "doc_reg_number",
                "Регистрационен номер на документа",
                "Document registration number",
                "text",
                "",
            ),
            (
                "ediary",
                "ediary_vendor",
                "Доставчик на електронния дневник",
                "E-diary vendor",
                "choice",
                "Школо | Shkolo\nАдминистратор | Admin Soft\nДруг | Other",
            ),
            ("ediary", "class_section", "Клас и паралелка", "Class and section", "text", ""),
        ]:
            if code in competences:
                CompetenceField.objects.get_or_create(
                    key=key,
                    defaults={
                        "competence": competences[code],
                        "label": label,
                        "label_en": label_en,
                        "kind": kind,
                        "choices": choices,
                    },
                )

    def _institutions(self, rng, regions, count):
        if Institution.objects.filter(code="2206409").exists():
            return
        fixed = [
            ("2206409", "138 СУ „Проф. Васил Златарски“", Institution.Kind.SCHOOL, "22", "София"),
            ("1600101", "ОУ „Христо Ботев“", Institution.Kind.SCHOOL, "16", "Пловдив"),
            ("2200301", "ДГ № 12 „Слънце“", Institution.Kind.KINDERGARTEN, "22", "София"),
            # Every region with a demo expert has a school to file from.
            ("0300101", "СУ „Св. Климент Охридски“", Institution.Kind.SCHOOL, "03", "Варна"),
        ]
        rows = list(fixed)
        used = {code for code, *_ in fixed}
        region_codes = [code for code, _n, _e in REGIONS]
        while len(rows) < count:
            region = rng.choice(region_codes)
            town = rng.choice(MUNICIPALITY_TOWNS[region])
            roll = rng.random()
            if roll < 0.45:
                kind, name = (
                    Institution.Kind.SCHOOL,
                    f"{rng.choice(['СУ', 'ОУ', 'ОбУ', 'ПГ'])} „{rng.choice(PATRONS)}“",
                )
            elif roll < 0.9:
                kind, name = Institution.Kind.KINDERGARTEN, f"ДГ „{rng.choice(KINDERGARTENS)}“"
            else:
                kind, name = Institution.Kind.SUPPORT_CENTRE, f"ЦПЛР „{rng.choice(PATRONS)}“"
            code = f"{region}{rng.randint(1000, 99999):05d}"
            if code in used:
                continue
            used.add(code)
            rows.append((code, f"{name} — {town}", kind, region, town))
        Institution.objects.bulk_create(
            [
                Institution(code=c, name=n, kind=k, region=regions[r], municipality=t, town=t)
                for c, n, k, r, t in rows
            ],
            ignore_conflicts=True,
        )
        school = Institution.objects.get(code="2206409")
        InstitutionDomain.objects.get_or_create(domain="138sou.example", institution=school)

    def _user(self, email, name):
        user, created = User.objects.get_or_create(email=email, defaults={"full_name": name})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _people(self, regions, competences):
        for email, name, kind, detail in PEOPLE:
            user = self._user(email, name)
            if kind == "admin":
                User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
            elif kind == "staff":
                code, role = detail
                Membership.objects.get_or_create(
                    user=user,
                    institution=Institution.objects.get(code=code),
                    defaults={"role": role},
                )
            elif kind in ("expert", "central", "supervisor"):
                if kind == "expert":
                    region_code, codes = detail
                    defaults = {
                        "tier": "regional",
                        "kind": "expert",
                        "region": regions[region_code],
                        "capacity": DEMO_CAPACITY,
                    }
                elif kind == "central":
                    codes = detail
                    defaults = {
                        "tier": "central",
                        "kind": "expert",
                        "region": None,
                        "capacity": DEMO_CAPACITY,
                    }
                else:
                    codes = []
                    defaults = {
                        "tier": "regional" if detail else "central",
                        "kind": "supervisor",
                        "region": regions[detail] if detail else None,
                    }
                profile, _ = AgentProfile.objects.get_or_create(user=user, defaults=defaults)
                if codes:
                    profile.competences.set([competences[c] for c in codes])
                User.objects.filter(pk=user.pk).update(is_staff=kind == "supervisor")

    def _staff(self, rng):
        """Directors and teachers for many institutions (no password: they use OIDC)."""
        if User.objects.filter(email__endswith="@staff.demo").exists():
            return
        users, memberships = [], []
        # Schools of the regions with demo experts first, so their requests
        # come from many institutions, not from the one with demo logins.
        expert_regions = {code for code, _share in REGION_SHARES if code}
        others = Institution.objects.exclude(code__in=["2206409", "1600101"]).select_related(
            "region"
        )
        others = sorted(others, key=lambda i: (i.region.code not in expert_regions, i.code))
        for institution in others[:200]:
            for role in (Role.DIRECTOR, Role.TEACHER):
                email = f"{role}.{institution.code}@staff.demo"
                first = rng.choice(FIRST)
                last = rng.choice(LAST_M)
                # Bulgarian surnames agree with the person: Иванов, Иванова.
                name = f"{first} {last}а" if first in FEMALE else f"{first} {last}"
                users.append(User(email=email, full_name=name, password="!"))
                memberships.append((email, institution, role))
        User.objects.bulk_create(users, ignore_conflicts=True)
        by_email = {u.email: u for u in User.objects.filter(email__endswith="@staff.demo")}
        Membership.objects.bulk_create(
            [Membership(user=by_email[e], institution=i, role=r) for e, i, r in memberships],
            ignore_conflicts=True,
        )

    def _tickets(self, rng, competences, count):
        """Requests of a working week: mostly on time, a few late, most open ones assigned."""
        if Ticket.objects.exists():
            return 0
        now = timezone.now()
        cal = sla.calendar_for(None)
        first, resolution = (m * 60 for m in sla.targets_for(Priority.NORMAL, None))
        plans = self._plan(rng, count)
        for plan in plans:
            plan.when = business_before(now, plan.age, cal)
        # Filed in the order they happened, so references follow the dates.
        plans.sort(key=lambda p: p.when)
        for plan in plans:
            self._live(rng, plan, competences, now, cal, first, resolution)
        self._everyone_has_a_queue(now)
        return len(plans)

    def _plan(self, rng, count) -> list[Plan]:
        requesters = list(
            Membership.objects.select_related("user", "institution__region")
            .filter(user__email__endswith=".demo")
            .order_by("pk")
        )
        # {region code: {institution code: its people}}: a request comes from
        # an institution first, then from one of its people.
        by_region: dict[str, dict[str, list[Membership]]] = {}
        for membership in requesters:
            institution = membership.institution
            schools = by_region.setdefault(institution.region.code, {})
            schools.setdefault(institution.code, []).append(membership)

        def someone_from(region):
            schools = by_region.get(region) if region else None
            if not schools:
                return rng.choice(requesters)
            if DEMO_SCHOOL in schools and rng.random() < DEMO_SCHOOL_SHARE:
                return rng.choice(schools[DEMO_SCHOOL])  # the demo logins' own school
            return rng.choice(schools[rng.choice(sorted(schools))])

        first, resolution = (m * 60 for m in sla.targets_for(Priority.NORMAL, None))
        plans = []
        # First, two open requests for every demo expert, in their region and
        # competence (technical faults for central support), so no queue is empty.
        experts = AgentProfile.objects.filter(kind=AgentProfile.Kind.EXPERT)
        for profile in experts.select_related("region").order_by("pk"):
            held = set(profile.competences.values_list("code", flat=True))
            codes = [c for c, _s, _t in SAMPLE_REQUESTS if c in held and c != "general"]
            region = profile.region.code if profile.region_id else None
            if not codes or (region and region not in by_region):
                continue
            for _n in range(2):
                plans.append(
                    Plan(
                        someone_from(region),
                        rng.choice(codes),
                        Status.OPEN,
                        late=False,
                        age=rng.uniform(0.3 * first, 0.8 * resolution),
                    )
                )
        states, weights = zip(*FINAL_STATES, strict=True)
        regions, shares = zip(*REGION_SHARES, strict=True)
        while len(plans) < count:
            region = rng.choices(regions, shares)[0]
            membership = someone_from(region)
            code = rng.choice(SAMPLE_REQUESTS)[0]
            state = rng.choices(states, weights)[0] if region else Status.NEW
            late_share = LATE_OPEN if state in (Status.NEW, Status.OPEN) else LATE_DONE
            late = state != Status.WAITING and rng.random() < late_share
            plans.append(
                Plan(membership, code, state, late, self._age(rng, state, late, first, resolution))
            )
        return plans[:count]

    @staticmethod
    def _age(rng, state, late, first, resolution) -> float:
        """How long ago (business seconds) a request in `state` was filed."""
        if state == Status.NEW:
            return rng.uniform(1.1 * first, 1.8 * first) if late else rng.uniform(600, 0.8 * first)
        if state == Status.OPEN:
            if late:
                return rng.uniform(1.05 * resolution, 1.5 * resolution)
            return rng.uniform(0.3 * first, 0.85 * resolution)
        if state == Status.WAITING:
            return rng.uniform(0.5 * first, 0.9 * resolution)
        if state == Status.RESOLVED:
            return rng.uniform(0.4 * resolution, 2 * resolution)
        return rng.uniform(0.6 * resolution, 4 * resolution)  # closed: up to four weeks back

    def _live(self, rng, plan, competences, now, cal, first, resolution):
        """File one planned request and play its life up to its final state."""
        membership = plan.membership

        def at(seconds):
            return min(add_business_seconds(plan.when, seconds, cal), now)

        ticket = actions.create_ticket(
            actor=membership.user,
            institution=membership.institution,
            competence=competences[plan.code],
            subject=next(s for c, s, _t in SAMPLE_REQUESTS if c == plan.code),
            text=next(t for c, _s, t in SAMPLE_REQUESTS if c == plan.code),
            channel="email" if rng.random() < 0.25 else "portal",
            notify=False,
            now=plan.when,
        )
        if plan.state == Status.NEW:
            return ticket
        agent = ticket.assignee
        if agent is None:
            # No expert of this region holds the competence: central support
            # or a supervisor would step in; the demo leaves it in the queue,
            # answered by nobody, unless an expert may see it.
            agent = self._someone_who_sees(ticket)
            if agent is None:
                return ticket
            actions.assign(ticket=ticket, actor=agent, assignee=agent, now=at(300))
        answered = min(rng.uniform(0.1, 0.8) * first, plan.age * 0.5)
        if plan.state == Status.OPEN and rng.random() < 0.4:
            # A question, the requester's answer: the request is open again.
            actions.add_message(
                ticket=ticket,
                actor=agent,
                text=rng.choice(QUESTIONS),
                channel="console",
                notify=False,
                new_status=Status.WAITING,
                now=at(answered),
            )
            actions.add_message(
                ticket=ticket,
                actor=membership.user,
                text=rng.choice(ANSWERS),
                channel="portal",
                notify=False,
                now=at(answered + rng.uniform(0.2, 0.9) * (plan.age - answered)),
            )
        else:
            reply_status = Status.WAITING if plan.state == Status.WAITING else Status.OPEN
            actions.add_message(
                ticket=ticket,
                actor=agent,
                text=rng.choice(QUESTIONS if reply_status == Status.WAITING else REPLIES),
                channel="console",
                notify=False,
                new_status=reply_status,
                now=at(answered),
            )
        if plan.state in (Status.RESOLVED, Status.CLOSED):
            if plan.late:
                solved = min(plan.age, rng.uniform(1.02, 1.3) * resolution)
            else:
                solved = min(plan.age, rng.uniform(0.2, 0.9) * resolution)
            solved = max(solved, answered + 60)
            actions.add_message(
                ticket=ticket,
                actor=agent,
                text=rng.choice(SOLUTIONS),
                channel="console",
                notify=False,
                new_status=Status.RESOLVED,
                now=at(solved),
            )
            if plan.state == Status.CLOSED:
                closed = max(solved + 60, solved + rng.uniform(0.1, 1.0) * (plan.age - solved))
                actions.change_status(
                    ticket=ticket,
                    actor=agent,
                    status=Status.CLOSED,
                    notify=False,
                    now=at(closed),
                )
        if rng.random() < 0.3:
            actions.add_message(
                ticket=ticket,
                actor=agent,
                kind="internal",
                channel="console",
                text="Вътрешна бележка: проверено в регистъра.",
                notify=False,
                now=at(answered + 120),
            )
        return ticket

    @staticmethod
    def _someone_who_sees(ticket):
        for profile in AgentProfile.objects.filter(kind=AgentProfile.Kind.EXPERT).select_related(
            "user"
        ):
            if Ticket.objects.visible_to(profile.user).filter(pk=ticket.pk).exists():
                return profile.user
        return None

    def _everyone_has_a_queue(self, now):
        """Give an expert whose queue stayed empty an open request of a busier colleague."""
        for profile in AgentProfile.objects.filter(kind=AgentProfile.Kind.EXPERT).select_related(
            "user"
        ):
            user = profile.user
            if Ticket.objects.filter(assignee=user, status__in=OPEN_STATUSES).exists():
                continue
            held = list(profile.competences.values_list("pk", flat=True))
            candidate = (
                Ticket.objects.visible_to(user)
                .filter(status__in=OPEN_STATUSES, competence_id__in=held, tier=profile.tier)
                .exclude(assignee__isnull=True)
                .order_by("-created_at")
                .first()
            )
            if candidate is not None:
                actions.assign(ticket=candidate, actor=user, assignee=user, now=now)
