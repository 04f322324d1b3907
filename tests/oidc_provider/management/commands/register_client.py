from django.core.management.base import BaseCommand
from oauth2_provider.models import Application


class Command(BaseCommand):
    help = "Register (or replace) the helpdesk as a confidential OIDC client."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--redirect-uri", required=True)
        parser.add_argument("--post-logout-uri", default="")

    def handle(self, *args, **options):
        Application.objects.filter(client_id=options["client_id"]).delete()
        Application.objects.create(
            name="НЕИСПУО helpdesk (test)",
            client_id=options["client_id"],
            client_secret=options["client_secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=options["redirect_uri"],
            post_logout_redirect_uris=options["post_logout_uri"],
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
        )
