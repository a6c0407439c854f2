"""CSV import: upload (decode, header, automatic mapping), start (mapping confirmed,
queued), run (validate every row, write in chunks with bulk_create/bulk_update).

Line numbers are physical lines of the file, the header being line 1, so a quoted
field spanning two lines makes the next record start two lines further down.
"""
import csv
import io
import re
from functools import lru_cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from scendcore.audit import audit_record as audit
from scendcore.tenancy import membership_of

from ..visibility import may_see, restricted_owner_id

from ..suppression import addresses_listed, normalize_address, suppression_reasons

from ..models import (
    Contact,
    ContactList,
    DuplicatePolicy,
    ImportJob,
    ImportRejectedRow,
    ImportStatus,
    LeadStatus,
    ListMembership,
    ScoreBand,
    Tag,
)
from .suppressions import ERASED_REFUSAL

CHUNK = 2000
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# Target fields a column can map to, with their maximum length.
FIELDS = {
    "email": ("Email", 254),
    "first_name": ("First name", 100),
    "last_name": ("Last name", 100),
    "full_name": ("Full name (split into first and last)", 201),
    "phone": ("Phone", 20),
    "company": ("Company", 200),
    "title": ("Title", 200),
    "timezone": ("Timezone", 64),
    "lead_status": ("Lead status", 16),
    "score_band": ("Score band", 8),
    "owner": ("Owner (user email or username)", 254),
    "tags": ("Tags (separated by ; or ,)", 2000),
    "source": ("Source", 64),
}
CUSTOM = "custom"
IGNORE = ""

ALIASES = {
    "email": ["email", "e-mail", "email address", "e-mail address", "mail", "work email", "business email",
              "email_address", "emailaddress"],
    "first_name": ["first name", "firstname", "first", "given name", "forename", "first_name"],
    "last_name": ["last name", "lastname", "last", "surname", "family name", "last_name"],
    "full_name": ["name", "full name", "fullname", "contact name", "full_name"],
    "phone": ["phone", "phone number", "mobile", "mobile phone", "cell", "cell phone", "telephone", "tel",
              "work phone", "phone_number"],
    "company": ["company", "organization", "organisation", "company name", "account", "account name",
                "employer", "org"],
    "title": ["title", "job title", "position", "role", "job_title", "jobtitle"],
    "timezone": ["timezone", "time zone", "tz", "time_zone"],
    "lead_status": ["lead status", "status", "lead_status", "stage"],
    "score_band": ["score band", "score", "score_band", "temperature", "rating"],
    "owner": ["owner", "contact owner", "rep", "sales rep", "assigned to"],
    "tags": ["tags", "tag", "labels"],
    "source": ["source", "lead source", "lead_source"],
}
_ALIAS_INDEX = {re.sub(r"[^a-z0-9]", "", a): field for field, names in ALIASES.items() for a in names}


def guess_field(header):
    key = re.sub(r"[^a-z0-9]", "", (header or "").lower())
    if key in _ALIAS_INDEX:
        return _ALIAS_INDEX[key]
    if "email" in key:
        return "email"
    return CUSTOM


def auto_mapping(headers):
    """{"<index>": field}: each known field taken by its first matching column only."""
    mapping, taken = {}, set()
    for i, header in enumerate(headers):
        field = guess_field(header)
        if field != CUSTOM and field in taken:
            field = CUSTOM
        taken.add(field)
        mapping[str(i)] = field if header.strip() or field != CUSTOM else IGNORE
    return mapping


def custom_key(header, index):
    return slugify(header).replace("-", "_")[:64] or f"column_{index + 1}"


# --- upload ----------------------------------------------------------------------------

def decode_upload(raw):
    """UTF-8 text of the upload (a BOM is dropped), or ValidationError saying why not."""
    if not raw:
        raise ValidationError("The file is empty.")
    # The whole file, not a prefix: PostgreSQL cannot store a NUL anywhere in the text.
    nul = raw.find(b"\x00")
    if nul != -1:
        line = raw.count(b"\n", 0, nul) + 1
        raise ValidationError(
            f"This is not a CSV file (it contains binary data, first on line {line}). Export your sheet as CSV, UTF-8."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"The file is not UTF-8 encoded (first bad byte on line {line}). Save it as “CSV UTF-8” and upload again."
        ) from None
    return text


def sniff_delimiter(first_line):
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_records(text, delimiter):
    """Yields (line number, values) for every record after the header."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next(reader, None)
    previous = reader.line_num
    for values in reader:
        yield previous + 1, values
        previous = reader.line_num


@transaction.atomic
def import_prepare(*, tenant, file_name, raw, actor):
    """Check an uploaded file and keep it for mapping. ValidationError explains refusals."""
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    text = decode_upload(raw)
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    try:
        headers = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True), [])
        total = sum(1 for _ in read_records(text, delimiter))
    except csv.Error as exc:
        raise ValidationError(f"This file cannot be read as CSV: {exc}.") from None
    headers = [h.strip() for h in headers]
    if not any(headers):
        raise ValidationError("The first line must be a header row naming the columns.")
    mapping = auto_mapping(headers)
    if "email" not in mapping.values():
        raise ValidationError(
            "No email column found. The header row needs a column named “Email” (or “E-mail”, "
            "“Email address”): every contact needs an email address."
        )
    job = ImportJob.objects.create(
        tenant=tenant, created_by=actor, file_name=file_name[:255], source_text=text, headers=headers,
        delimiter=delimiter, mapping=mapping, total_rows=total,
    )
    audit(tenant=tenant, actor=actor, object_type="import", object_id=job.pk, action="uploaded",
          changes={"file_name": job.file_name, "rows": total})
    return job


def import_preview(*, job, rows=5):
    out = []
    for line, values in read_records(job.source_text, job.delimiter):
        out.append((line, values))
        if len(out) >= rows:
            break
    return out


def mapping_clean(*, headers, mapping):
    clean = {}
    seen = set()
    for i, _ in enumerate(headers):
        field = mapping.get(str(i), IGNORE)
        if field not in FIELDS and field not in (CUSTOM, IGNORE):
            raise ValidationError(f"Unknown target for column {i + 1}.")
        if field in FIELDS:
            if field in seen:
                raise ValidationError(f"“{FIELDS[field][0]}” is mapped to more than one column.")
            seen.add(field)
        clean[str(i)] = field
    if "email" not in seen:
        raise ValidationError("Map one column to Email: every contact needs an email address.")
    return clean


@transaction.atomic
def import_start(*, tenant, job, mapping, duplicate_policy, actor, contact_list=None, new_list_name=""):
    """Confirm the mapping and queue the import (the task runs after commit)."""
    from ..tasks import import_contacts

    job = ImportJob.objects.select_for_update().get(pk=job.pk, tenant=tenant)
    if job.status != ImportStatus.UPLOADED:
        raise ValidationError("This import has already been started.")
    if duplicate_policy not in DuplicatePolicy.values:
        raise ValidationError("Choose what to do with contacts that already exist.")
    if contact_list is not None and contact_list.tenant_id != tenant.pk:
        raise ValidationError("That list does not exist.")
    job.mapping = mapping_clean(headers=job.headers, mapping=mapping)
    job.duplicate_policy = duplicate_policy
    if new_list_name.strip():
        from .lists import list_create

        contact_list = list_create(tenant=tenant, name=new_list_name, actor=actor)
    job.contact_list = contact_list
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["mapping", "duplicate_policy", "contact_list", "status"])
    audit(tenant=tenant, actor=actor, object_type="import", object_id=job.pk, action="started",
          changes={"mapping": job.mapping, "duplicate_policy": duplicate_policy})
    transaction.on_commit(lambda: import_contacts.delay(tenant.pk, job.pk))
    return job


# --- row validation ------------------------------------------------------------------

PHONE_NOISE = re.compile(r"[\s().\-/]")
E164 = re.compile(r"\+[1-9]\d{6,14}")


def normalize_phone(raw):
    """E.164 form of `raw` ("+1 (415) 555-0100" → "+14155550100"); "" stays "".
    A number without a country code is refused rather than guessed."""
    value = (raw or "").strip()
    if not value:
        return ""
    compact = PHONE_NOISE.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not E164.fullmatch(compact):
        raise ValidationError(
            f"phone “{value}” is not a valid international number (E.164, e.g. +14155550100)"
        )
    return compact


@lru_cache(maxsize=1)
def timezone_names():
    return frozenset(available_timezones())


def _choice(value, choices, label):
    lowered = value.strip().lower()
    for key, text in choices:
        if lowered in (key, text.lower()):
            return key
    raise ValidationError(f"unknown {label} “{value.strip()}” (use one of: {', '.join(k for k, _ in choices)})")


class RowError(Exception):
    pass


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
            data["lead_status"] = _choice(data["lead_status"], LeadStatus.choices, "lead status")
        if data.get("score_band"):
            data["score_band"] = _choice(data["score_band"], ScoreBand.choices, "score band")
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


def import_run(*, tenant_id, import_id):
    """Process a queued import. Safe to call twice: only one call moves it to running."""
    claimed = ImportJob.objects.filter(pk=import_id, tenant_id=tenant_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = ImportJob.objects.select_related("tenant").get(pk=import_id, tenant_id=tenant_id)
    importer = _Importer(job)
    try:
        importer.run(read_records(job.source_text, job.delimiter))
    except Exception as exc:  # recorded for the user, then re-raised for the worker log
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=f"The import stopped: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job
