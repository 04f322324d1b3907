from tickets.models import Competence

"""The starting competence catalogue (DOMAIN.md); administrators edit it later."""

COMPETENCES = [
    # code, name (bg), name (en), hint (bg), hint (en), tier, keywords
    (
        "login",
        "Вход и служебни профили edu.mon.bg",
        "Login and edu.mon.bg profiles",
        "Не мога да вляза, грешна роля, профил за нов служител",
        "Cannot log in, wrong role, account for a new employee",
        "regional",
        "вход,влез,парол,профил,edu.mon.bg,акаунт,потребителско име,роля",
    ),
    (
        "delegation",
        "Делегиране на права",
        "Delegation of rights",
        "Делегиране или оттегляне на права, изтекло делегиране",
        "Delegate or revoke rights, a delegation that ended too early",
        "regional",
        "делегир,оттегл,пълномощ,заместник,права",
    ),
    (
        "diplomas",
        "Регистър на документите за завършено образование",
        "Register of completed education documents",
        "Въвеждане на диплома, отхвърлено сканирано изображение, корекция",
        "Entering a diploma, a rejected scanned image, a correction",
        "regional",
        "диплом,свидетелств,удостоверени,регистър на документ,сканира,дубликат на диплом",
    ),
    (
        "data_transfer",
        "Прехвърляне на данни от стария регистър",
        "Transfer of data from the old register",
        "Липсващи или грешни данни след прехвърлянето",
        "Data missing or wrong after the transfer",
        "regional",
        "прехвърл,стария регистър,старата система,мигра,липсват данни,липсващи",
    ),
    (
        "duplicates",
        "Деца и ученици, дублирани записи",
        "Children and students, duplicated records",
        "Дублирани деца или ученици, преместване между институции",
        "Duplicated children or students, moving a student between institutions",
        "regional",
        "дублир,два пъти,преместване,премест,отписване,записване на ученик,ЕГН",
    ),
    (
        "ediary",
        "Електронни дневници и външен софтуер",
        "E-diaries and external software",
        "Съвместимост на е-дневник, достъп на външен доставчик",
        "E-diary vendor compatibility, access of an external provider",
        "regional",
        "дневник,доставчик,външен софтуер,интеграция,shkolo,школо,API",
    ),
    (
        "activity_docs",
        "Документи за дейността на институцията",
        "Documents on the institution's activity",
        "Раздели на модула за документи за дейността",
        "Sections of the activity documents module",
        "regional",
        "документи за дейността,учебен план,годишен план,книга за,протокол",
    ),
    (
        "institutions",
        "Институции и списък-образец",
        "Institutions and staff lists",
        "Данни за институцията, персонал и паралелки в кампании",
        "Institution data, staff and class forms in campaigns",
        "regional",
        "списък-образец,образец,паралелк,щатн,персонал,данни за институцията,кампания",
    ),
    (
        "technical",
        "Техническа неизправност",
        "Technical fault",
        "Модул дава грешка или не работи — отива към централната поддръжка",
        "A module errors or is down — goes to central support",
        "central",
        "грешка,не работи,срив,недостъп,бавно,зарежда,изключение,error,500,timeout",
    ),
    (
        "general",
        "Обща консултация",
        "General consultation",
        "Всичко останало",
        "Anything else",
        "regional",
        "",
    ),
]


def ensure_competences():
    """Create or update the catalogue; return competences by code."""

    out = {}
    for order, (code, name, name_en, hint, hint_en, tier, keywords) in enumerate(COMPETENCES):
        competence, created = Competence.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "hint": hint,
                "hint_en": hint_en,
                "tier": tier,
                "keywords": keywords,
                "order": (order + 1) * 10,
            },
        )
        out[code] = competence
    return out
