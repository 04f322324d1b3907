from accounts.models import Region

"""The 28 regions of Bulgaria with their НЕИСПУО codes (the first two digits
of an institution's code) and a main town used by the demo data."""

REGIONS = [
    ("01", "Благоевград", "Blagoevgrad"),
    ("02", "Бургас", "Burgas"),
    ("03", "Варна", "Varna"),
    ("04", "Велико Търново", "Veliko Tarnovo"),
    ("05", "Видин", "Vidin"),
    ("06", "Враца", "Vratsa"),
    ("07", "Габрово", "Gabrovo"),
    ("08", "Добрич", "Dobrich"),
    ("09", "Кърджали", "Kardzhali"),
    ("10", "Кюстендил", "Kyustendil"),
    ("11", "Ловеч", "Lovech"),
    ("12", "Монтана", "Montana"),
    ("13", "Пазарджик", "Pazardzhik"),
    ("14", "Перник", "Pernik"),
    ("15", "Плевен", "Pleven"),
    ("16", "Пловдив", "Plovdiv"),
    ("17", "Разград", "Razgrad"),
    ("18", "Русе", "Ruse"),
    ("19", "Силистра", "Silistra"),
    ("20", "Сливен", "Sliven"),
    ("21", "Смолян", "Smolyan"),
    ("22", "София-град", "Sofia City"),
    ("23", "София-област", "Sofia Province"),
    ("24", "Стара Загора", "Stara Zagora"),
    ("25", "Търговище", "Targovishte"),
    ("26", "Хасково", "Haskovo"),
    ("27", "Шумен", "Shumen"),
    ("28", "Ямбол", "Yambol"),
]


def ensure_regions():
    """Create or update the 28 regions; return them by code."""

    out = {}
    for code, name, name_en in REGIONS:
        region, _ = Region.objects.update_or_create(
            code=code, defaults={"name": name, "name_en": name_en}
        )
        out[code] = region
    return out
