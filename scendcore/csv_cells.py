"""Cells of every CSV the app writes. A spreadsheet evaluates a cell that starts with
=, +, - or @ (also after leading whitespace, which some of them skip) and treats a
leading tab or carriage return as the start of one too, so an uploaded value such as
=HYPERLINK(...) would run on the machine of whoever opens the export. Such cells get a
leading apostrophe: spreadsheets show the text, and the original is the cell minus it."""
import csv

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@")
CONTROL_STARTS = ("\t", "\r")
LEADING_WHITESPACE = " \t\r\n"


def safe_cell(value):
    text = "" if value is None else str(value)
    if text.startswith(CONTROL_STARTS) or text.lstrip(LEADING_WHITESPACE).startswith(FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    """A file whose write returns the line, so csv.writer yields text instead of storing it."""

    def write(self, value):
        return value


def csv_lines(rows):
    """Each row (an iterable of values) as one CSV line, every cell through safe_cell."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_response(rows, *, filename):
    response = HttpResponse("".join(csv_lines(rows)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
