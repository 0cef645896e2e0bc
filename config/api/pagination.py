from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import Count, QuerySet, Window
from django.db.models.query import ModelIterable
from rest_framework.pagination import PageNumberPagination

_TOTAL = "page_total_rows"
_MAX_OFFSET = 2**63 - 1  # a bigint: LIMIT and OFFSET beyond it are errors, not empty pages


class CountInPagePaginator(Paginator):
    """Django's paginator, but a page of model rows carries the total in its own query
    (`COUNT(*) OVER ()`): one query and one round trip per list, not a COUNT then the page.

    A page past the end comes back empty, which is all it takes to refuse it (page 1 is
    allowed empty), so the total is never counted apart. Whatever the window cannot count
    as Django would (DISTINCT, a UNION, a sliced or `values()` queryset, a plain list, orphans)
    goes Django's own way."""

    def page(self, number):
        if not self._counts_in_page():
            return super().page(number)
        number = self._whole_number(number)
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page > _MAX_OFFSET:  # no table is that long; the database refuses it
            raise EmptyPage(self.error_messages["no_results"])
        counted = self.object_list.annotate(**{_TOTAL: Window(Count("*"))})
        rows = list(counted[bottom : bottom + self.per_page])
        if rows:
            self.__dict__["count"] = getattr(rows[0], _TOTAL)  # fills the cached property
        elif number == 1 and self.allow_empty_first_page:
            self.__dict__["count"] = 0
        else:
            raise EmptyPage(self.error_messages["no_results"])
        return self._get_page(rows, number, self)

    def _whole_number(self, number) -> int:
        """`validate_number` up to, not including, its comparison with the page count."""
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def _counts_in_page(self) -> bool:
        rows = self.object_list
        if not isinstance(rows, QuerySet) or rows._iterable_class is not ModelIterable:
            return False
        query = rows.query
        return (
            not self.orphans
            and not query.distinct
            and not query.combinator
            and not query.is_sliced
            and connections[rows.db].features.supports_over_clause
        )


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}` with `?page=` and `?page_size=` (at most 200)."""

    django_paginator_class = CountInPagePaginator
    page_size_query_param = "page_size"
    max_page_size = 200
