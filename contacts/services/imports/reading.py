"""Reading an uploaded CSV: decoding, the delimiter, records with their physical line
numbers, and the mapping of its columns to contact fields (guessed, then confirmed)."""
import csv
import io
import re

from django.core.exceptions import ValidationError
from django.utils.text import slugify

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
