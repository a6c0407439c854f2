"""Auto-enrollment: a sequence's entry rules (seed 002) pick contacts to enroll.

Sequence.entry_rules holds any of:
  {"lead_status": ["new", "contacted"], "score_band": ["warm"], "list_ids": [3],
   "no_active_enrollment": true, "no_reply_days": 14}
Every rule present must hold. A sequence with no rule never auto-enrolls anyone (an
empty rule set would otherwise mean "every contact").
"""
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from contacts.suppression import without_flags
from contacts.visibility import contact_scope
from scendcore.tenancy import membership_of

from ..models import Enrollment, Sequence, SequenceStatus
from .enrollments import OPEN, EnrollResult, enrollments_bulk_create

RULE_KEYS = ("lead_status", "score_band", "list_ids", "no_active_enrollment", "no_reply_days")


def rules_clean(*, tenant, rules):
    """The rule set with unknown keys dropped and values checked; ValidationError if invalid."""
    from contacts.models import ContactList, LeadStatus, ScoreBand

    rules = rules or {}
    clean = {}
    for key, allowed in (("lead_status", LeadStatus.values), ("score_band", ScoreBand.values)):
        values = [v for v in rules.get(key) or [] if v]
        if any(v not in allowed for v in values):
            raise ValidationError(f"Unknown {key.replace('_', ' ')}.")
        if values:
            clean[key] = sorted(set(values))
    list_ids = sorted({int(v) for v in rules.get("list_ids") or []})
    if list_ids:
        if ContactList.objects.filter(tenant=tenant, pk__in=list_ids).count() != len(list_ids):
            raise ValidationError("Unknown list.")
        clean["list_ids"] = list_ids
    if rules.get("no_active_enrollment"):
        clean["no_active_enrollment"] = True
    days = rules.get("no_reply_days")
    if days not in (None, ""):
        days = int(days)
        if days < 1 or days > 3650:
            raise ValidationError("“No reply in the last N days” needs N between 1 and 3650.")
        clean["no_reply_days"] = days
    return clean


def matching_contacts(*, tenant, rules, at=None):
    """Contacts of the tenant that satisfy every rule and may be contacted at all."""
    from contacts.models import Contact, ListMembership

    at = at or timezone.now()
    # The flags here are only a cheap first cut: enrollment applies the whole suppression
    # rule (the suppression list too) to whatever matches.
    qs = without_flags(Contact.objects.filter(tenant=tenant))
    if rules.get("lead_status"):
        qs = qs.filter(lead_status__in=rules["lead_status"])
    if rules.get("score_band"):
        qs = qs.filter(score_band__in=rules["score_band"])
    if rules.get("list_ids"):
        qs = qs.filter(
            Exists(ListMembership.objects.filter(contact=OuterRef("pk"), contact_list_id__in=rules["list_ids"],
                                                 contact_list__tenant=tenant))
        )
    if rules.get("no_active_enrollment"):
        qs = qs.exclude(Exists(Enrollment.objects.filter(contact=OuterRef("pk"), status__in=OPEN)))
    if rules.get("no_reply_days"):
        since = at - timedelta(days=rules["no_reply_days"])
        qs = qs.filter(Q(last_replied_at__isnull=True) | Q(last_replied_at__lt=since))
    return qs


def auto_enroll_sequence(*, tenant, sequence, at=None):
    """Enroll every contact the rules select and who is not in this sequence already."""
    at = at or timezone.now()
    rules = sequence.entry_rules or {}
    if not (sequence.auto_enroll_enabled and sequence.status == SequenceStatus.ACTIVE and any(rules.get(k) for k in RULE_KEYS)):
        return EnrollResult()
    # Rules pick from the contacts the sequence's owner may see: a rep who sees only their
    # own contacts cannot reach a colleague's through a rule.
    owner = membership_of(tenant=tenant, user_id=sequence.owner_id)
    candidates = matching_contacts(tenant=tenant, rules=rules, at=at).filter(contact_scope(owner)).exclude(
        Exists(Enrollment.objects.filter(sequence=sequence, contact=OuterRef("pk"), status__in=OPEN))
    )
    return enrollments_bulk_create(
        tenant=tenant, sequence=sequence, contact_ids=candidates.values("pk"), actor=None, via="auto", at=at,
        # The rule set has its own "not in any other sequence" rule: it alone decides here.
        skip_active_elsewhere=False,
    )


def auto_enroll_all(*, at=None):
    """Run every tenant's enabled rule sets. Returns {sequence_id: enrolled count}."""
    at = at or timezone.now()
    done = {}
    for sequence in Sequence.objects.filter(auto_enroll_enabled=True, status=SequenceStatus.ACTIVE).select_related("tenant"):
        try:
            result = auto_enroll_sequence(tenant=sequence.tenant, sequence=sequence, at=at)
        except ValidationError:
            continue  # e.g. no steps yet: nothing to enroll into
        done[sequence.pk] = result.enrolled
    return done


def entry_rules_update(*, tenant, sequence, enabled, rules, actor):
    """Save a sequence's rule set; enabling needs at least one rule."""
    from scendcore.models import AuditEntry

    if sequence.tenant_id != tenant.pk:
        raise ValidationError("That sequence does not exist.")
    clean = rules_clean(tenant=tenant, rules=rules)
    if enabled and not clean:
        raise ValidationError("Add at least one rule before turning auto-enrollment on.")
    sequence.entry_rules = clean
    sequence.auto_enroll_enabled = bool(enabled)
    sequence.updated_by = actor
    sequence.save(update_fields=["entry_rules", "auto_enroll_enabled", "updated_by", "updated_at"])
    AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type="sequence", object_id=str(sequence.pk), action="entry_rules_updated",
        changes={"auto_enroll_enabled": sequence.auto_enroll_enabled, "entry_rules": clean},
    )
    return sequence
