"""Filters shared by the apps' FilterSets."""

import django_filters
from django import forms
from django.db import models
from django_filters import rest_framework

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


class FilterSet(rest_framework.FilterSet):
    """The base of every filterset here. A foreign key filters by the related row's id, as a
    plain condition on the scoped queryset: django-filter's default checks the id against
    every row of the related table, so another workspace's id gave 200 and no rows while an
    id that does not exist gave 400, telling an outsider which ids exist."""

    @classmethod
    def filter_for_lookup(cls, field, lookup_type):
        if lookup_type == "exact" and isinstance(field, models.ForeignKey):  # and one-to-one
            target = field.target_field
            if isinstance(target, models.UUIDField):
                return django_filters.UUIDFilter, {}
            if isinstance(target, models.IntegerField):  # the auto fields too
                return IdFilter, {}
            return django_filters.CharFilter, {}
        return super().filter_for_lookup(field, lookup_type)


class FilterBackend(rest_framework.DjangoFilterBackend):
    """django-filter's backend, skipped when the query string names none of the filterset's
    parameters: with nothing to filter by it changes nothing, and building its form on every
    list request cost a twentieth of one. A parameter counts by prefix, for filters that take
    several (`created_after`, `created_before`)."""

    filterset_base = FilterSet  # for the views' `filterset_fields`

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            names = tuple(filterset_class.base_filters)
            if not any(param.startswith(names) for param in request.query_params):
                return queryset
        return super().filter_queryset(request, queryset, view)
