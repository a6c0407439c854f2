"""Validating every row of an import and writing the contacts in chunks (bulk_create /
bulk_update), with rejected rows kept with their line numbers."""
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from scendcore.tenancy import membership_of

from ...models import Contact, DuplicatePolicy, ImportJob, ImportRejectedRow, LeadStatus, ListMembership, ScoreBand, Tag
from ...suppression import addresses_listed, normalize_address, suppression_reasons
from ...visibility import may_see, restricted_owner_id
from ..suppressions import ERASED_REFUSAL
from .reading import CUSTOM, FIELDS, IGNORE, custom_key
from .values import RowError, choice_of, normalize_phone, timezone_names

CHUNK = 2000


class _Importer:
    def __init__(self, job):
        self.job = job
        self.tenant = job.tenant
        self.width = len(job.headers)
        self.columns = [
            (int(i), field, custom_key(job.headers[int(i)], int(i)) if field == CUSTOM else None)
            for i, field in sorted(job.mapping.items(), key=lambda kv: int(kv[0]))
            if field != IGNORE
        ]
        self.seen = {}
        self.owners = self._owners()
        # Who started the import decides which existing contacts it may change; a rep who
        # sees only their own contacts owns the new ones the file names no owner for.
        self.importer = membership_of(tenant=self.tenant, user_id=self.job.created_by_id)
        self.default_owner_id = restricted_owner_id(self.importer)
        self.source = f"import: {job.file_name}"[:64]
        self.counts = dict(created=0, updated=0, unchanged=0, skipped=0, rejected=0, suppressed=0, blank=0,
                           processed=0)

    def _owners(self):
        from scendcore.models import Membership

        owners = {}
        for m in Membership.objects.filter(tenant=self.tenant).select_related("user"):
            for key in (m.user.email, m.user.username):
                if key:
                    owners[key.lower()] = m.user_id
        return owners

    def parse(self, line, values):
        """Validated field values of one record, or RowError with the reason."""
        if len(values) != self.width:
            raise RowError(f"has {len(values)} fields but the header has {self.width}")
        data, custom = {}, {}
        for index, field, key in self.columns:
            value = values[index].strip()
            if field == CUSTOM:
                if value:
                    custom[key] = value
                continue
            if value and len(value) > FIELDS[field][1] and field not in ("phone", "full_name"):
                raise RowError(f"{FIELDS[field][0].lower()} is longer than {FIELDS[field][1]} characters")
            data[field] = value
        try:
            self._validate(data)
        except ValidationError as exc:
            raise RowError(exc.messages[0]) from None
        tags = [t.strip()[:64] for t in re.split(r"[;,]", data.pop("tags", "")) if t.strip()]
        full = data.pop("full_name", "")
        if full and not (data.get("first_name") or data.get("last_name")):
            first, _, last = full.partition(" ")
            data["first_name"], data["last_name"] = first[:100], last.strip()[:100]
        return data, custom, tags

    def _validate(self, data):
        email = data.get("email", "")
        if not email:
            raise ValidationError("email is missing")
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(f"invalid email address “{email}”") from None
        if "phone" in data:
            data["phone"] = normalize_phone(data["phone"])
        tz = data.get("timezone")
        if tz and tz not in timezone_names():
            raise ValidationError(f"unknown timezone “{tz}” (use an IANA name such as Europe/Berlin)")
        if data.get("lead_status"):
            data["lead_status"] = choice_of(data["lead_status"], LeadStatus.choices, "lead status")
        if data.get("score_band"):
            data["score_band"] = choice_of(data["score_band"], ScoreBand.choices, "score band")
        if data.get("owner"):
            owner_id = self.owners.get(data["owner"].lower())
            if owner_id is None:
                raise ValidationError(f"owner “{data['owner']}” is not a member of this workspace")
            data["owner"] = owner_id

    def run(self, records):
        chunk, rejected = [], []
        for line, values in records:
            self.counts["processed"] += 1
            if not any(v.strip() for v in values):
                self.counts["blank"] += 1
                continue
            try:
                data, custom, tags = self.parse(line, values)
            except RowError as exc:
                rejected.append(ImportRejectedRow(job=self.job, line=line, email=_email_of(values, self.columns),
                                                  reason=str(exc)[:500], values=values))
                continue
            key = data["email"].lower()
            if key in self.seen:
                rejected.append(ImportRejectedRow(job=self.job, line=line, email=data["email"], values=values,
                                                  reason=f"duplicate email: already on line {self.seen[key]} of this file"))
                continue
            self.seen[key] = line
            chunk.append((line, data, custom, tags, values))
            if len(chunk) + len(rejected) >= CHUNK:
                self.flush(chunk, rejected)
                chunk, rejected = [], []
        self.flush(chunk, rejected)

    def flush(self, chunk, rejected):
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    self._write(chunk, rejected)
                break
            except IntegrityError:
                # Another writer created one of these emails meanwhile: classify again.
                if attempt == 2:
                    raise
        ImportJob.objects.filter(pk=self.job.pk).update(
            processed_rows=self.counts["processed"], created_count=self.counts["created"],
            updated_count=self.counts["updated"], unchanged_count=self.counts["unchanged"],
            skipped_existing_count=self.counts["skipped"], rejected_count=self.counts["rejected"],
            suppressed_count=self.counts["suppressed"], blank_lines=self.counts["blank"],
        )

    def _write(self, chunk, rejected):
        counts = dict.fromkeys(("created", "updated", "unchanged", "skipped"), 0)
        existing = {
            c.email.lower(): c
            for c in Contact.objects.filter(tenant=self.tenant)
            .alias(email_lower=Lower("email"))
            .filter(email_lower__in=[d["email"].lower() for _, d, _, _, _ in chunk])
        }
        listed = addresses_listed(tenant=self.tenant, addresses=[d["email"] for _, d, _, _, _ in chunk])
        # Like HubSpot's and Outreach's imports: an unsubscribed or bounced address comes in
        # as a suppressed contact (its data kept, never mailed); an erased person's does not
        # come in at all, and the row says nothing more about them than its line.
        refused = [
            ImportRejectedRow(job=self.job, line=line, email="", values=[], reason=ERASED_REFUSAL)
            for line, data, _, _, _ in chunk if _erased(listed.get(normalize_address(data["email"])))
        ]
        refused_lines = {row.line for row in refused}
        new, changed, touched, tag_rows = [], [], [], []
        hidden = []
        update_fields = set()
        for line, data, custom, tags, values in chunk:
            if line in refused_lines:
                continue
            contact = existing.get(data["email"].lower())
            if contact is None:
                # .get, not .pop: a retried flush (IntegrityError) reads the same row data again.
                contact = Contact(tenant=self.tenant, custom_fields=custom, source=data.get("source") or self.source,
                                  owner_id=self.default_owner_id)
                for field, value in data.items():
                    if value not in ("", None):  # empty cells keep the model's defaults
                        setattr(contact, "owner_id" if field == "owner" else field, value)
                new.append(contact)
            elif self.job.duplicate_policy == DuplicatePolicy.SKIP:
                counts["skipped"] += 1
                continue
            elif not may_see(self.importer, contact):
                hidden.append(ImportRejectedRow(
                    job=self.job, line=line, email=data["email"], values=values,
                    reason="a contact with this email belongs to another owner; ask a manager to update it",
                ))
                continue
            else:
                fields = self._apply(contact, data, custom)
                if fields:
                    update_fields |= fields
                    changed.append(contact)
                else:
                    counts["unchanged"] += 1
            touched.append(contact)
            if tags:
                tag_rows.append((contact, tags))
        Contact.objects.bulk_create(new, batch_size=CHUNK)
        if changed:
            now = timezone.now()
            for contact in changed:
                contact.updated_at = now
            Contact.objects.bulk_update(changed, sorted(update_fields | {"updated_at"}), batch_size=CHUNK)
        counts["created"], counts["updated"] = len(new), len(changed)
        self._write_tags(tag_rows)
        if self.job.contact_list_id and touched:
            ListMembership.objects.bulk_create(
                [ListMembership(contact_list_id=self.job.contact_list_id, contact_id=c.pk) for c in touched],
                batch_size=CHUNK, ignore_conflicts=True,
            )
        ImportRejectedRow.objects.bulk_create(rejected + refused + hidden, batch_size=CHUNK)
        counts["suppressed"] = len(suppression_reasons(touched)) if touched else 0
        for key, n in counts.items():
            self.counts[key] += n
        self.counts["rejected"] += len(rejected) + len(refused) + len(hidden)

    @staticmethod
    def _apply(contact, data, custom):
        """Set the non-empty values that differ; an empty cell never blanks a field."""
        fields = set()
        for field, value in data.items():
            attr = "owner_id" if field == "owner" else field
            if value not in ("", None) and getattr(contact, attr) != value:
                if field == "email":
                    continue  # same address, maybe other case: keep the stored spelling
                setattr(contact, attr, value)
                fields.add(attr)
        merged = {**(contact.custom_fields or {}), **custom}
        if merged != (contact.custom_fields or {}):
            contact.custom_fields = merged
            fields.add("custom_fields")
        return fields

    def _write_tags(self, tag_rows):
        if not tag_rows:
            return
        names = {name for _, tags in tag_rows for name in tags}
        Tag.objects.bulk_create([Tag(tenant=self.tenant, name=n) for n in names], ignore_conflicts=True)
        ids = dict(Tag.objects.filter(tenant=self.tenant, name__in=names).values_list("name", "pk"))
        through = Contact.tags.through
        through.objects.bulk_create(
            [through(contact_id=c.pk, tag_id=ids[n]) for c, tags in tag_rows for n in set(tags)],
            batch_size=CHUNK, ignore_conflicts=True,
        )


def _erased(entry):
    return entry is not None and entry.erased_at is not None


def _email_of(values, columns):
    for index, field, _ in columns:
        if field == "email" and index < len(values):
            return values[index].strip()[:320]
    return ""
