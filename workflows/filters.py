"""django-filter filtersets: workflows by status, documents by workflow, run and step, and a
`q` search on both (documents: PostgreSQL full-text search, ranked); runs by workflow, status
and trigger."""

import django_filters

from config.api.filters import FilterSet, IdFilter
from workflows.models import Document, Run, RunStatus, Trigger, Workflow, WorkflowStatus
from workflows.selectors import search_documents, search_workflows


class WorkflowFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WorkflowStatus.choices)
    q = django_filters.CharFilter(method="search", max_length=200, label="Search")

    class Meta:
        model = Workflow
        fields = ["workspace", "status"]

    def search(self, queryset, name, value):
        return search_workflows(queryset, value)


class DocumentFilter(FilterSet):
    workflow = IdFilter(field_name="run__workflow_id")
    run = IdFilter(field_name="run_id")
    step = django_filters.CharFilter(field_name="step_key", max_length=64)
    q = django_filters.CharFilter(method="search", max_length=200, label="Full-text search")

    class Meta:
        model = Document
        fields = ["workspace", "workflow", "run", "step"]

    def search(self, queryset, name, value):
        return search_documents(queryset, value)


class RunFilter(FilterSet):
    workflow = IdFilter(field_name="workflow_id")
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)

    class Meta:
        model = Run
        fields = ["workflow", "status", "trigger"]
