"""A service account's own user, and the rights that follow from what it is bound to.

The domain decides visibility and permissions from users (memberships,
agent profiles), so an integration gets a user of its own: bound to an
institution it holds an ICT lead's membership there (sees and files the
institution's requests, may set a priority); bound to a region it holds a
regional supervisor's profile (sees the region's requests and may act on
them, but is never picked by routing, which assigns experts only). The user
has no usable password, so it can only come in with a token.
"""

import uuid

from django.db import transaction

from accounts.models import AgentProfile, Membership, Role, User

SERVICE_DOMAIN = "service-account.invalid"


def service_email(account) -> str:
    return f"api-{account.pk}@{SERVICE_DOMAIN}"


@transaction.atomic
def save_service_account(account, *, actor=None):
    """Save `account`, creating or updating its user and the rights of its binding."""
    if account.pk is None:
        user = User(email=f"api-new-{uuid.uuid4().hex}@{SERVICE_DOMAIN}")
        user.set_unusable_password()
        # Mail the domain writes to this user (acknowledgements) is skipped.
        user.email_undeliverable = True
        user.save()
        account.user = user
        account.created_by = actor if actor is not None and actor.is_authenticated else None
        account.save()
    else:
        account.save()
    user = account.user
    user.email = service_email(account)
    user.full_name = f"API: {account.name}"[:150]
    user.is_active = account.is_active
    user.email_undeliverable = True
    user.save()
    Membership.objects.filter(user=user).exclude(institution_id=account.institution_id).delete()
    if account.institution_id:
        Membership.objects.update_or_create(
            user=user, institution_id=account.institution_id, defaults={"role": Role.ICT_LEAD}
        )
    if account.region_id:
        AgentProfile.objects.update_or_create(
            user=user,
            defaults={
                "tier": AgentProfile.Tier.REGIONAL,
                "kind": AgentProfile.Kind.SUPERVISOR,
                "region_id": account.region_id,
                "capacity": 0,
            },
        )
    else:
        AgentProfile.objects.filter(user=user).delete()
    return account
