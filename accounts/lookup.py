"""Finding institution staff by name, e-mail or НЕИСПУО code (for agents filing on their behalf).

One bounded query per page: the text is cut to QUERY_MAX characters and
MAX_WORDS words, a page holds PAGE_SIZE people and no page after MAX_PAGE
is served. Only active people who work at an institution are found; support
staff and administrators without a membership are not.
"""

import re
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q
from django.utils.translation import gettext as _

from accounts.models import Institution, Membership, User
from helpdesk.errors import DomainError

QUERY_MIN = 2
QUERY_MAX = 100
MAX_WORDS = 5
PAGE_SIZE = 10
MAX_PAGE = 20
INSTITUTIONS_MAX = 10

_WORD = re.compile(r"[^\s,;]+")


@dataclass
class PeoplePage:
    people: list = field(default_factory=list)
    institutions: list = field(default_factory=list)
    page: int = 1
    has_next: bool = False


def clean_query(text) -> str:
    text = " ".join(str(text or "").split())
    if len(text) < QUERY_MIN:
        raise DomainError(
            _("Type at least %(n)s characters of a name, an e-mail or a code.") % {"n": QUERY_MIN},
            field="q",
        )
    if len(text) > QUERY_MAX:
        raise DomainError(
            _("The search text is longer than %(n)s characters.") % {"n": QUERY_MAX}, field="q"
        )
    return text


def _variants(word: str) -> set[str]:
    # SQLite folds only ASCII case; Cyrillic names are written capitalised.
    return {word, word.lower(), word.capitalize(), word.upper()}


def _person_condition(text: str) -> tuple[Q, Q]:
    """Return (condition on people, condition on institutions) for the search text."""
    if text.isdigit():
        staff = Membership.objects.filter(institution__code__startswith=text)
        return Q(pk__in=staff.values("user_id")), Q(code__startswith=text)
    people, places = Q(), Q()
    for word in _WORD.findall(text)[:MAX_WORDS]:
        either, place = Q(email__icontains=word.lower()), Q()
        for variant in sorted(_variants(word)):
            either |= Q(full_name__icontains=variant)
            place |= Q(name__icontains=variant)
        people &= either
        places &= place
    return people, places


def search_people(text, page: int = 1) -> PeoplePage:
    """Return one page of the staff matching `text`, each with `memberships` (and institutions)."""
    text = clean_query(text)
    if not 1 <= page <= MAX_PAGE:
        raise DomainError(_("No such page."), field="page")
    people_q, places_q = _person_condition(text)
    ids = list(
        User.objects.filter(people_q, is_active=True, agent_profile__isnull=True)
        .filter(pk__in=Membership.objects.values("user_id"))
        .order_by("full_name", "email", "id")
        .values_list("id", flat=True)[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1]
    )
    has_next = len(ids) > PAGE_SIZE
    ids = ids[:PAGE_SIZE]
    memberships = Membership.objects.select_related("institution").order_by(
        "institution__name", "id"
    )
    found = {
        u.pk: u
        for u in User.objects.filter(pk__in=ids).prefetch_related(
            Prefetch("memberships", queryset=memberships)
        )
    }
    institutions = []
    if page == 1:
        institutions = list(
            Institution.objects.filter(places_q, is_active=True).order_by("code")[:INSTITUTIONS_MAX]
        )
    return PeoplePage(
        people=[found[i] for i in ids if i in found],
        institutions=institutions,
        page=page,
        has_next=has_next,
    )


def person_json(user) -> dict:
    return {
        "id": user.pk,
        "name": user.full_name,
        "email": user.email,
        "institutions": [
            {
                "code": m.institution.code,
                "name": m.institution.name,
                "role": m.get_role_display(),
            }
            for m in user.memberships.all()
        ],
    }


def institution_json(institution) -> dict:
    return {"code": institution.code, "name": institution.name}
