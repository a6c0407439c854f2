"""The one rule of who must not be contacted (DESIGN invariant 4), for one contact or a
whole batch with one query.

A contact is suppressed when its own row says so (do-not-contact, unsubscribed, hard
bounce) or when its address is on the tenant's suppression list. The list is keyed by
the address, not the contact, so an unsubscribe, a bounce or a complaint outlives the
contact: deleting it and importing the address again does not make it mailable.

Addresses are compared exactly after trimming and lowercasing. Plus-tags and dots are
not folded: at most providers `pat+news@` and `p.at@` are other mailboxes, possibly of
other people, and folding them would suppress someone who never asked; this is also how
the big ESPs keep their suppression lists.

Entries are found by an HMAC-SHA256 of the normalized address under a server key
(SUPPRESSION_HASH_KEY, else one derived from SECRET_KEY). The plain address is kept
beside it for people to read, except for erased persons: their entry keeps only the
hash, which cannot be reversed by trying a dictionary of addresses without the key.
"""
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

HKDF_INFO = b"scendcore.suppression-list.v1"

# Reason keys of the rule, with the words used for them in activity rows and pages.
LABELS = {
    "do_not_contact": "do-not-contact",
    "unsubscribed": "unsubscribed",
    "bounced": "bounced",
    "complained": "spam complaint",
    "suppressed": "on the suppression list",
}
# Each reason as the end of a sentence "The contact …", for pages that explain a hold.
EXPLANATIONS = {
    "do_not_contact": "is marked do-not-contact",
    "unsubscribed": "unsubscribed",
    "bounced": "has an address that bounced",
    "complained": "marked one of our emails as spam",
    "suppressed": "has an address on the suppression list",
}
# A list entry's reason (contacts.SuppressionReason) as a reason of the rule.
LIST_REASONS = {
    "unsubscribed": "unsubscribed",
    "hard_bounce": "bounced",
    "complaint": "complained",
    "manual": "suppressed",
    "erasure": "suppressed",
}


def normalize_address(address):
    return (address or "").strip().lower()


@lru_cache(maxsize=4)
def _key(configured, secret_key):
    material = (configured or secret_key).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material)


def hasher():
    """address -> the list's key for it (64 hex characters); the settings are read once,
    not once per address of a batch."""
    key = _key(getattr(settings, "SUPPRESSION_HASH_KEY", ""), settings.SECRET_KEY)
    digest = hmac.digest

    def hash_of(address):
        return digest(key, normalize_address(address).encode(), "sha256").hex()

    return hash_of


def address_hash(address):
    return hasher()(address)


def flag_reason(contact):
    """What the contact's own row says, or None (no query)."""
    if contact.do_not_contact:
        return "do_not_contact"
    if contact.unsubscribed_at:
        return "unsubscribed"
    if contact.bounced_at:
        return "bounced"
    return None


def without_flags(contacts):
    """The queryset `contacts` without those whose own row suppresses them: a first cut
    for set-based selection (the list still has to be asked, see suppression_reasons)."""
    return contacts.filter(do_not_contact=False, unsubscribed_at__isnull=True, bounced_at__isnull=True)


# One probe of the (tenant, address_hash) unique index per contact. Written as LATERAL …
# LIMIT 1 because with "address_hash = ANY(…)" over a batch's thousand hashes PostgreSQL
# chose to scan the whole list instead (7 ms at 50,000 entries, growing with the list).
LISTED_SQL = """
SELECT k.tenant_id, k.address_hash, s.reason
FROM unnest(%s::bigint[], %s::text[]) AS k(tenant_id, address_hash)
CROSS JOIN LATERAL (
    SELECT reason FROM contacts_suppression
    WHERE tenant_id = k.tenant_id AND address_hash = k.address_hash
    LIMIT 1
) s
"""


def listed(pairs):
    """{(tenant id, address hash): entry reason} for the `pairs` that are on their
    tenant's list: one query."""
    from django.db import connection

    from scendcore.lookups import array_literal

    from .models import Suppression

    pairs = list(set(pairs))
    if not pairs:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(LISTED_SQL, [array_literal([t for t, _ in pairs])[0], array_literal([h for _, h in pairs])[0]])
            return {(t, h): reason for t, h, reason in cursor.fetchall()}
    rows = Suppression.objects.filter(
        tenant_id__in={t for t, _ in pairs}, address_hash__in={h for _, h in pairs}
    ).values_list("tenant_id", "address_hash", "reason")
    return {(t, h): reason for t, h, reason in rows if (t, h) in set(pairs)}


def addresses_listed(*, tenant, addresses):
    """{normalized address: Suppression entry} of the tenant's entries among `addresses`."""
    from .models import Suppression

    hash_of = hasher()
    by_hash = {hash_of(a): normalize_address(a) for a in addresses if normalize_address(a)}
    if not by_hash:
        return {}
    rows = Suppression.objects.filter(tenant=tenant, address_hash__any=list(by_hash))
    return {by_hash[row.address_hash]: row for row in rows}


def suppression_reasons(contacts):
    """{contact id: reason key} for the suppressed ones among `contacts` (any tenants),
    with at most one query whatever their number."""
    reasons, wanted = {}, {}
    hash_of = hasher()
    for contact in contacts:
        reason = flag_reason(contact)
        if reason:
            reasons[contact.id] = reason
        else:
            wanted[contact.id] = (contact.tenant_id, hash_of(contact.email))
    found = listed(wanted.values())
    for contact_id, key in wanted.items():
        if key in found:
            reasons[contact_id] = LIST_REASONS[found[key]]
    return reasons


def suppression_reason(contact):
    """The reason key why `contact` must not be contacted, or None."""
    return suppression_reasons([contact]).get(contact.id)


def label(reason):
    return LABELS[reason]
