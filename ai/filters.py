import django_filters

from ai.models import Outcome, UsageRecord
from config.api.filters import FilterSet, IdFilter


class UsageRecordFilter(FilterSet):
    model = django_filters.CharFilter()
    provider = django_filters.CharFilter()
    cached = django_filters.BooleanFilter()
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    error_code = django_filters.CharFilter()
    workspace = IdFilter(field_name="workspace_id")
    user = IdFilter(field_name="user_id")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    date_from = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte")
    date_to = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte")

    class Meta:
        model = UsageRecord
        fields = ["model", "provider", "cached", "outcome", "error_code", "workspace", "user"]
