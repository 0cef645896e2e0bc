import django_filters
from django.db.models import Q

from config.api.filters import FilterSet
from tasks.models import BackgroundTask, Priority, Status


class TaskFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    task_type = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    finished_after = django_filters.IsoDateTimeFilter(field_name="finished_at", lookup_expr="gte")
    finished_before = django_filters.IsoDateTimeFilter(field_name="finished_at", lookup_expr="lt")
    q = django_filters.CharFilter(method="search", label="Search name, type and error")

    class Meta:
        model = BackgroundTask
        fields = ["status", "priority", "task_type", "workspace"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(task_type__icontains=value) | Q(error__icontains=value)
        )
