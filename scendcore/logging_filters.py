"""Filters for the LOGGING config."""
from django.core.exceptions import PermissionDenied


class OneLinePermissionDenied:
    """A 403 is an ordinary answer (a rep opening a manager's page), not a crash: Django logs
    it with the exception's traceback, which fills the console. Keep the one warning line."""

    def filter(self, record):
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
