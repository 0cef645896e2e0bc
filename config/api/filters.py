"""Filters shared by the apps' FilterSets."""

import django_filters
from django import forms

# What a 64-bit integer column can hold (ids are bigints).
ID_MIN, ID_MAX = -(2**63), 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """An id in a query string: an integer a 64-bit column can hold. A bigger one is a 400
    in the error shape, not a database error (SQLite cannot even bind it: a 500 the fuzzer
    found on /documents/search)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", ID_MIN)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)
