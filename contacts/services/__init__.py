"""Writes for contacts, lists and imports (keyword-only, atomic, audited)."""
