"""Fill an empty helpdesk with realistic demo data; running it again changes nothing."""

import datetime
import random

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
from tickets import actions
from tickets.catalogue import ensure_competences
from tickets.models import Status, Ticket

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

    def _institutions(self, rng, regions, count):
        if Institution.objects.filter(code="2206409").exists():
            return
        fixed = [
            ("2206409", "138 СУ „Проф. Васил Златарски“", Institution.Kind.SCHOOL, "22", "София"),
            ("1600101", "ОУ „Христо Ботев“", Institution.Kind.SCHOOL, "16", "Пловдив"),
            ("2200301", "ДГ № 12 „Слънце“", Institution.Kind.KINDERGARTEN, "22", "София"),
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
                    }
                elif kind == "central":
                    codes = detail
                    defaults = {"tier": "central", "kind": "expert", "region": None}
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
        for institution in Institution.objects.exclude(code__in=["2206409", "1600101"])[:200]:
            for role in (Role.DIRECTOR, Role.TEACHER):
                email = f"{role}.{institution.code}@staff.demo"
                name = f"{rng.choice(FIRST)} {rng.choice(LAST_M)}"
                users.append(User(email=email, full_name=name, password="!"))
                memberships.append((email, institution, role))
        User.objects.bulk_create(users, ignore_conflicts=True)
        by_email = {u.email: u for u in User.objects.filter(email__endswith="@staff.demo")}
        Membership.objects.bulk_create(
            [Membership(user=by_email[e], institution=i, role=r) for e, i, r in memberships],
            ignore_conflicts=True,
        )

    def _tickets(self, rng, competences, count):
        if Ticket.objects.exists():
            return 0
        requesters = list(
            Membership.objects.select_related("user", "institution").filter(
                user__email__endswith=".demo"
            )
        )
        agents = {p.user_id: p.user for p in AgentProfile.objects.select_related("user")}
        now = timezone.now()
        created = 0
        for i in range(count):
            membership = requesters[i % len(requesters)] if i % 3 == 0 else rng.choice(requesters)
            code, subject, text = rng.choice(SAMPLE_REQUESTS)
            when = now - datetime.timedelta(minutes=rng.randint(10, 60 * 24 * 40))
            ticket = actions.create_ticket(
                actor=membership.user,
                institution=membership.institution,
                competence=competences[code],
                subject=subject,
                text=text,
                channel="portal" if i % 4 else "email",
                notify=False,
                now=when,
            )
            roll = rng.random()
            if roll < 0.2:
                created += 1
                continue  # stays new
            agent = agents.get(ticket.assignee_id)
            if agent is None:
                agent = next(
                    (
                        a
                        for a in agents.values()
                        if Ticket.objects.visible_to(a).filter(pk=ticket.pk).exists()
                        and a.agent.kind == "expert"
                    ),
                    None,
                )
                if agent is None:
                    created += 1
                    continue
                actions.assign(ticket=ticket, actor=agent, assignee=agent, now=when)
            step = when + datetime.timedelta(minutes=rng.randint(5, 600))
            target = Status.OPEN
            if roll > 0.45:
                target = Status.WAITING
            if roll > 0.65:
                target = Status.RESOLVED
            if roll > 0.85:
                target = Status.CLOSED
            actions.add_message(
                ticket=ticket,
                actor=agent,
                text=rng.choice(REPLIES),
                channel="console",
                notify=False,
                now=min(step, now),
                new_status=target if target != Status.CLOSED else Status.RESOLVED,
            )
            if target == Status.CLOSED:
                actions.change_status(
                    ticket=ticket, actor=agent, status=Status.CLOSED, now=now, notify=False
                )
            if rng.random() < 0.3:
                actions.add_message(
                    ticket=ticket,
                    actor=agent,
                    kind="internal",
                    channel="console",
                    text="Вътрешна бележка: проверено в регистъра.",
                    notify=False,
                    now=now,
                )
            created += 1
        return created
