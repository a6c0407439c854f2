"""CSV import: upload (decode, header, automatic mapping), start (mapping confirmed,
queued), run (validate every row, write in chunks with bulk_create/bulk_update).

Line numbers are physical lines of the file, the header being line 1, so a quoted
field spanning two lines makes the next record start two lines further down.
"""
from .jobs import import_prepare, import_preview, import_run, import_start
from .reading import CUSTOM, FIELDS, IGNORE, auto_mapping, guess_field, mapping_clean
from .values import normalize_phone

__all__ = [
    "CUSTOM", "FIELDS", "IGNORE", "auto_mapping", "guess_field", "import_prepare", "import_preview", "import_run",
    "import_start", "mapping_clean", "normalize_phone",
]
