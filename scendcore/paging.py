"""Pages of tables that grow to hundreds of thousands of rows, at the same cost on page 1
and page 1,000.

Django's paginator counts every matching row (COUNT(*) over the whole set) and fetches a
page with OFFSET over the full query, joins and per-row subqueries included. Here:
- the total is counted only up to a bound (COUNT_CAP, or as far as the page asked for),
  and shown as "10,000+" beyond it; tables whose number the user acts on ("enroll all
  4,812 members") ask for the exact count;
- a page's ids are found first, by a query with the table's filters and order only (an
  index-only scan over an index that matches the sort), and then just those rows are
  fetched with their joins, prefetches and annotations.
"""
from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000
# Beyond any real table, and small enough that OFFSET and LIMIT stay within a bigint.
MAX_PAGE = 10**9


def bounded_label(count, bound):
    """A count taken up to `bound` (and bound + 1 past it), for people: "4,812", or
    "10,000+" when it was not counted to the end."""
    return f"{bound:,}+" if count > bound else f"{count:,}"


def _page_number(number):
    try:
        return min(max(int(number), 1), MAX_PAGE)
    except (TypeError, ValueError, OverflowError):
        return 1


class TablePaginator(Paginator):
    def __init__(self, object_list, per_page, *, exact_count=False, count_cap=None):
        super().__init__(object_list, per_page)
        self.exact_count = exact_count
        self.count_cap = COUNT_CAP if count_cap is None else count_cap
        self._reach = 0  # rows up to the end of the page asked for

    def get_page(self, number):
        number = _page_number(number)
        self._reach = number * self.per_page
        return super().get_page(number)

    def page(self, number):
        if not self._reach:
            self._reach = _page_number(number) * self.per_page
        return super().page(number)

    @property
    def _bound(self):
        return max(self.count_cap, self._reach)

    @cached_property
    def count(self):
        """The number of rows, or bound + 1 when there are more than the bound."""
        rows = self.object_list
        if not hasattr(rows, "values_list"):
            return len(rows)
        rows = rows.order_by()
        if self.exact_count:
            return rows.count()
        return rows[: self._bound + 1].count()

    @property
    def count_is_capped(self):
        return not self.exact_count and self.count > self._bound

    @property
    def count_label(self):
        return f"{self.count:,}" if self.exact_count else bounded_label(self.count, self._bound)

    def _get_page(self, object_list, number, paginator):
        return super()._get_page(self._rows_of(object_list), number, paginator)

    def _rows_of(self, sliced):
        """The page's rows: ids by the narrow query, then those rows with everything joined."""
        if not hasattr(sliced, "values_list") or not hasattr(sliced, "query"):
            return sliced
        ids = list(sliced.values_list("pk", flat=True))
        if not ids:
            return []
        by_id = {row.pk: row for row in self.object_list.order_by().filter(pk__in=ids)}
        return [by_id[pk] for pk in ids if pk in by_id]
