"""The one rule for cells of every CSV the app writes: nothing a spreadsheet would evaluate."""
import csv
import io

import pytest

from scendcore.csv_cells import csv_response, safe_cell


@pytest.mark.parametrize("value", [
    "=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\tplain", "\rplain",
    " =1+1", "\t @A1", "\n-1", " \r\n+1",
])
def test_cells_a_spreadsheet_would_evaluate_get_a_leading_quote(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value, expected", [
    ("ann@example.com", "ann@example.com"), ("Ann Lee", "Ann Lee"), ("", ""), ("a=b", "a=b"),
    ("1-2", "1-2"), (" spaced ", " spaced "), (12, "12"), (None, ""),
])
def test_other_cells_are_written_as_they_are(value, expected):
    assert safe_cell(value) == expected


def test_a_csv_response_writes_every_cell_through_the_rule_and_reads_back():
    response = csv_response([["a", "=b"], ["+c", 3]], filename="out.csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="out.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    assert rows == [["a", "'=b"], ["'+c", "3"]]
