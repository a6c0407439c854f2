"""API bearer tokens: a token acts as its user inside one tenant; only the sha256 of its
key is stored."""
import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import ApiToken, Membership

TOKEN_PREFIX = "sc_"


def token_hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, tenant, user, name):
    """A new token; the plain key is returned once and only its hash is stored."""
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise ValidationError({"user": "That user is not a member of this workspace."})
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(tenant=tenant, user=user, name=name, key_hash=token_hash(key))
    return key


def token_authenticate(request, key):
    """Put the token's user, membership and tenant on the request; False for an unknown
    or revoked key, and for a user who has left the token's workspace."""
    token = ApiToken.objects.select_related("tenant", "user").filter(key_hash=token_hash(key.strip())).first()
    if token is None or not token.user.is_active:
        return False
    membership = Membership.objects.filter(tenant=token.tenant, user=token.user).select_related("tenant").first()
    if membership is None:  # the user left the workspace: the token dies with the membership
        return False
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    request.user, request.membership, request.tenant = token.user, membership, token.tenant
    return True
