"""Routing looks mail senders' institutions up in this process's copy of the directory."""

from accounts.models import Institution, InstitutionDomain
from tickets import assignment


def test_codes_and_domains_are_answered_from_one_read(cast, django_assert_num_queries):
    InstitutionDomain.objects.create(institution=cast.school_a, domain="138sou.example")
    InstitutionDomain.objects.create(institution=cast.school_b, domain="Botev-Pd.example")
    assignment.clear_caches()
    with django_assert_num_queries(2):  # the institutions, then their domains
        directory = assignment.DatabaseDirectory()
        found = directory.institution_by_domain("138SOU.example")
    assert (found.id, found.code, found.region_code) == (cast.school_a.pk, "2206409", "22")
    with django_assert_num_queries(0):
        again = assignment.DatabaseDirectory()
        assert again.institution_by_domain("botev-pd.example").code == cast.school_b.code
        assert again.institution_by_code(cast.school_b.code).region_code == "16"
        assert again.institution_by_domain("abv.bg") is None
        assert again.institution_by_code("9999999") is None
    every = assignment.directory_snapshot().by_code
    assert set(every) == set(Institution.objects.values_list("code", flat=True))


def test_a_change_made_in_this_process_is_seen_at_once(cast):
    directory = assignment.DatabaseDirectory()
    assert directory.institution_by_domain("new-school.example") is None
    domain = InstitutionDomain.objects.create(
        institution=cast.school_a2, domain="new-school.example"
    )
    assert directory.institution_by_domain("new-school.example").code == cast.school_a2.code
    cast.school_a2.region = cast.region_y
    cast.school_a2.save()
    assert directory.institution_by_code(cast.school_a2.code).region_code == cast.region_y.code
    domain.delete()
    assert directory.institution_by_domain("new-school.example") is None


def test_a_mail_from_an_institutions_domain_is_routed_to_it(cast):
    from mailbridge.ingest import process_message
    from tests.mailbridge.test_ingest import make_mail
    from tickets.models import Ticket

    InstitutionDomain.objects.create(institution=cast.school_b, domain="botev-pd.example")
    outcome = process_message(make_mail(sender="Секретар <office@botev-pd.example>"))
    ticket = Ticket.objects.get(reference=outcome.ticket)
    assert (ticket.institution, ticket.region) == (cast.school_b, cast.region_y)
