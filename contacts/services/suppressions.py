"""Writes to the suppression list, and the erasure of a person. The rule that reads the
list is contacts.suppression."""
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from scendcore.audit import audit_record as audit

from ..facts import facts_record
from ..models import Contact, EventKind, ImportJob, ImportRejectedRow, ImportStatus, Suppression, SuppressionReason
from ..suppression import address_hash, normalize_address

ERASED_REFUSAL = "this address was erased at the person's request and may not be added again"
MAX_MANUAL = 1000
MAX_ADDRESS = 254


def suppression_add(*, tenant, reason, source, addresses=(), hashes=(), actor=None, at=None):
    """Put `addresses` (kept readable) or bare `hashes` (an address we no longer know)
    on the tenant's list. An entry already there keeps its first reason and source.
    Returns how many entries are new."""
    at = at or timezone.now()
    wanted = {}
    for address in addresses:
        normalized = normalize_address(address)
        if normalized:
            # Longer than any real address: listed by its hash only (the column holds 254).
            wanted[address_hash(normalized)] = normalized if len(normalized) <= MAX_ADDRESS else ""
    for digest in hashes:
        wanted.setdefault(digest, "")
    if not wanted:
        return 0
    existing = set(
        Suppression.objects.filter(tenant=tenant, address_hash__any=list(wanted)).values_list("address_hash", flat=True)
    )
    Suppression.objects.bulk_create(
        [Suppression(tenant=tenant, address=address, address_hash=digest, reason=reason, source=source[:100],
                     created_at=at, created_by=actor if getattr(actor, "is_authenticated", False) else None)
         for digest, address in wanted.items() if digest not in existing],
        batch_size=2000, ignore_conflicts=True,  # a concurrent writer may add the same address
    )
    return len(set(wanted) - existing)


def refuse_erased(*, tenant, address, field="email"):
    """ValidationError when `address` belongs to a person who asked to be erased."""
    entry = Suppression.objects.filter(tenant=tenant, address_hash=address_hash(address)).first()
    if entry is not None and entry.erased_at is not None:
        raise ValidationError({field: ERASED_REFUSAL[0].upper() + ERASED_REFUSAL[1:] + "."})


def _validate_address(address):
    if len(address) > MAX_ADDRESS:  # RFC 5321's limit on a path, and the list's column
        raise ValidationError("too long")
    validate_email(address)


def parse_addresses(text):
    """(valid normalized addresses, invalid entries) from text with one or more per line."""
    valid, invalid = [], []
    for item in (text or "").replace(",", "\n").replace(";", "\n").split():
        address = normalize_address(item)
        try:
            _validate_address(address)
        except ValidationError:
            invalid.append(item[:100])
            continue
        if address not in valid:
            valid.append(address)
    return valid, invalid


@transaction.atomic
def suppression_add_manual(*, tenant, text, actor, at=None):
    """Addresses a person typed in: listed, and any contact of theirs stops at once.
    Returns the number of new entries; ValidationError names what is not an address."""
    at = at or timezone.now()
    addresses, invalid = parse_addresses(text)
    if invalid:
        raise ValidationError({"addresses": f"Not an email address: {', '.join(invalid[:5])}."})
    if not addresses:
        raise ValidationError({"addresses": "Enter at least one email address."})
    if len(addresses) > MAX_MANUAL:
        raise ValidationError({"addresses": f"At most {MAX_MANUAL} addresses at once."})
    added = suppression_add(tenant=tenant, addresses=addresses, reason=SuppressionReason.MANUAL,
                            source="added by hand", actor=actor, at=at)
    contact_ids = _contact_ids(tenant, addresses)
    # Their contacts stop at once (a reaction to the fact).
    facts_record(tenant=tenant, kind=EventKind.SUPPRESSED, contact_ids=contact_ids, at=at, actor=actor,
                 data={"source": "added by hand"})
    audit(tenant=tenant, actor=actor, object_type="suppression", object_id="bulk", action="added",
          changes={"count": added, "contacts_stopped": len(contact_ids)})
    return added


def _contact_ids(tenant, addresses):
    from django.db.models.functions import Lower

    return list(
        Contact.objects.filter(tenant=tenant).alias(email_lower=Lower("email"))
        .filter(email_lower__in=list(addresses)).values_list("pk", flat=True)
    )


@transaction.atomic
def person_erase(*, tenant, address, actor, at=None):
    """Erase everything the workspace holds about the person at `address` (their
    contact with its messages, events, tasks and enrollments; inbound mail from them;
    import rows and finished import files naming them; the address in audit rows),
    keeping only the keyed hash on the suppression list so the address is never added
    or mailed again. Returns what was removed, by kind."""
    from messaging.models import InboundMessage, InboundQuarantine
    from scendcore.models import AuditEntry

    at = at or timezone.now()
    normalized = normalize_address(address)
    try:
        _validate_address(normalized)
    except ValidationError:
        raise ValidationError({"address": "Enter the email address of the person to erase."}) from None
    digest = address_hash(normalized)
    contacts = list(Contact.objects.filter(tenant=tenant, email__iexact=normalized).values_list("pk", flat=True))
    removed = {
        "inbound": InboundMessage.objects.filter(tenant=tenant, contact_id__in=contacts).delete()[0]
        + InboundMessage.objects.filter(tenant=tenant, from_address__iexact=normalized).delete()[0],
        "quarantined": InboundQuarantine.objects.filter(tenant=tenant, from_address__iexact=normalized).delete()[0],
        "import_rows": ImportRejectedRow.objects.filter(job__tenant=tenant, email__iexact=normalized).delete()[0],
        # A finished import's file is no longer needed; one naming the person is dropped.
        "import_files": ImportJob.objects.filter(
            tenant=tenant, status__in=[ImportStatus.DONE, ImportStatus.FAILED], source_text__icontains=normalized,
        ).update(source_text=""),
        "audit_rows": AuditEntry.objects.filter(
            tenant=tenant, object_type="contact", object_id__in=[str(pk) for pk in contacts],
        ).update(changes={"redacted": "erased at the person's request"}),
        "contacts": Contact.objects.filter(tenant=tenant, pk__in=contacts).delete()[1].get("contacts.Contact", 0),
    }
    entry, created = Suppression.objects.get_or_create(
        tenant=tenant, address_hash=digest,
        defaults={"reason": SuppressionReason.ERASURE, "source": "erasure request", "created_at": at},
    )
    entry.address, entry.erased_at = "", at
    entry.save(update_fields=["address", "erased_at"])
    audit(tenant=tenant, actor=actor, object_type="suppression", object_id=entry.pk, action="erased",
          changes={"contact_ids": contacts, **removed})
    return removed
