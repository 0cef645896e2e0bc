"""Admin pages render, and edits made there are validated and versioned like any other."""

import json

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from accounts.models import User
from workflows import authoring
from workflows.models import Schedule, Workflow
from workflows.tests.factories import make_document, make_run, make_step_run, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(user):
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def change_data(workflow, step_changes=None) -> dict:
    steps = list(workflow.steps.order_by("position"))
    data = {
        "workspace": workflow.workspace_id,
        "name": workflow.name,
        "description": workflow.description,
        "status": workflow.status,
        "default_model": workflow.default_model,
        "default_parameters": json.dumps(workflow.default_parameters),
        "inputs": json.dumps(workflow.inputs),
        "steps-TOTAL_FORMS": len(steps),
        "steps-INITIAL_FORMS": len(steps),
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "versions-MIN_NUM_FORMS": 0,
        "versions-MAX_NUM_FORMS": 1000,
    }
    for index, step in enumerate(steps):
        row = {
            "id": step.pk,
            "workflow": workflow.pk,
            "position": step.position,
            "key": step.key,
            "name": step.name,
            "kind": step.kind,
            "depends_on": json.dumps(step.depends_on),
            "prompt": step.prompt,
            "when": step.when,
            "model": step.model,
            "parameters": json.dumps(step.parameters),
            "response_schema": json.dumps(step.response_schema),
            "retry_max_attempts": step.retry_max_attempts,
            "retry_backoff_seconds": step.retry_backoff_seconds,
            "timeout_seconds": step.timeout_seconds,
        }
        row.update((step_changes or {}).get(step.key, {}))
        data.update({f"steps-{index}-{name}": value for name, value in row.items()})
    return data


def test_pages_render(admin_client, user, workspace):
    workflow = make_workflow(user, workspace)
    run = make_run(workflow)
    make_step_run(run, "summary")
    document = make_document(run, "summary", content="text")
    for url in (
        "/admin/workflows/workflow/",
        f"/admin/workflows/workflow/{workflow.pk}/change/",
        "/admin/workflows/run/",
        f"/admin/workflows/run/{run.pk}/change/",
        "/admin/workflows/document/",
        f"/admin/workflows/document/{document.pk}/change/",
        "/admin/workflows/schedule/add/",
        "/admin/workflows/budget/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_step_edits_in_the_admin_are_versioned(admin_client, user, workspace):
    workflow = make_workflow(user, workspace)
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    response = admin_client.post(
        url, change_data(workflow, {"actions": {"prompt": "Only {{ steps.summary.title }}"}})
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    workflow.refresh_from_db()
    assert workflow.version == 2
    assert authoring.current_definition(workflow)["steps"][1]["prompt"] == (
        "Only {{ steps.summary.title }}"
    )


def test_bad_step_edits_in_the_admin_are_refused(admin_client, user, workspace):
    workflow = make_workflow(user, workspace)
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    response = admin_client.post(
        url, change_data(workflow, {"summary": {"prompt": "{{ steps.actions.output }}"}})
    )
    assert response.status_code == 200
    assert "which is not upstream" in response.content.decode()
    assert Workflow.objects.get(pk=workflow.pk).version == 1


def test_schedules_from_the_admin_own_a_beat_task(admin_client, user, workspace):
    workflow = make_workflow(user, workspace)
    data = {
        "workflow": workflow.pk,
        "name": "Nightly",
        "cron": "0 2 * * *",
        "timezone": "UTC",
        "inputs": json.dumps({"notes": "n"}),
        "priority": "low",
        "enabled": "on",
    }
    bad = admin_client.post("/admin/workflows/schedule/add/", {**data, "cron": "0 25 * * *"})
    assert bad.status_code == 200 and not Schedule.objects.exists()
    assert admin_client.post("/admin/workflows/schedule/add/", data).status_code == 302
    schedule = Schedule.objects.get()
    assert schedule.periodic_task.crontab.hour == "2"
    response = admin_client.post(
        f"/admin/workflows/schedule/{schedule.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not PeriodicTask.objects.filter(task="workflows.run_schedule").exists()


def test_adding_a_workflow_in_the_admin_writes_version_one(admin_client, user, workspace):
    data = {
        "workspace": workspace.pk,
        "name": "From the admin",
        "description": "",
        "status": "active",
        "default_model": "",
        "default_parameters": "{}",
        "inputs": "[]",
        "steps-TOTAL_FORMS": 0,
        "steps-INITIAL_FORMS": 0,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "versions-MIN_NUM_FORMS": 0,
        "versions-MAX_NUM_FORMS": 1000,
    }
    empty = admin_client.post("/admin/workflows/workflow/add/", data)
    assert empty.status_code == 200 and "a non-empty list of steps" in empty.content.decode()
    step = {
        "position": 0,
        "key": "only",
        "name": "",
        "kind": "transform",
        "depends_on": "null",
        "prompt": "{{ workflow.name }}",
        "when": "",
        "model": "",
        "parameters": "{}",
        "response_schema": "null",
        "retry_max_attempts": 3,
        "retry_backoff_seconds": 2,
        "timeout_seconds": 120,
    }
    data.update({f"steps-0-{k}": v for k, v in step.items()}, **{"steps-TOTAL_FORMS": 1})
    assert admin_client.post("/admin/workflows/workflow/add/", data).status_code == 302
    workflow = Workflow.objects.get(name="From the admin")
    assert workflow.version == 1 and workflow.created_by == user
    assert authoring.current_definition(workflow)["steps"][0]["key"] == "only"
