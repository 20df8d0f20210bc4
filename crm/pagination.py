from collections.abc import Callable

from django.core.paginator import Paginator
from django.db.models import QuerySet


class PageRowsQuerySet(QuerySet):
    """A queryset whose shown rows carry more than its count and its page's ids need: joins
    and annotations that cost a lot over every row (a plan's figures from three goals) are
    added by `read_rows` to the page's rows only. `rows()` gives every row as shown (an
    export)."""

    _read_rows: Callable[[QuerySet], QuerySet] | None = None

    def read_rows(self, read: Callable[[QuerySet], QuerySet]) -> "PageRowsQuerySet":
        clone = self._chain()
        clone._read_rows = read
        return clone

    def rows(self) -> QuerySet:
        return self._read_rows(self) if self._read_rows is not None else self

    def _clone(self):
        clone = super()._clone()
        clone._read_rows = self._read_rows
        return clone


class DeferredJoinPaginator(Paginator):
    """Finds a page's rows by id first, then reads those rows with their joins.

    With a plain OFFSET, PostgreSQL joins customer, rep and user for every row it skips (170 ms
    for the last page of 100,000 deals); stepping over index entries instead costs a few ms.
    Still one query per page. A PageRowsQuerySet's count and ids leave out what only its shown
    rows need.
    """

    def page(self, number):
        page = super().page(number)
        if isinstance(page.object_list, QuerySet):
            rows = self.object_list.filter(pk__in=page.object_list.values("pk"))
            page.object_list = rows.rows() if isinstance(rows, PageRowsQuerySet) else rows
        return page
