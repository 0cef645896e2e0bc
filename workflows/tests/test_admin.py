"""Admin pages render, and edits made there are validated and versioned like any other."""

import json

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from accounts.models import User
from workflows import authoring
from workflows.definition import dump_yaml
from workflows.models import Schedule, Workflow
from workflows.tests.factories import make_document, make_run, make_step_run, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(user):
    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def change_data(workflow, definition: dict) -> dict:
    """The change form as the admin posts it: the definition as YAML, steps read-only."""
    data = {
        "status": workflow.status,
        "definition": dump_yaml(definition),
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "versions-MIN_NUM_FORMS": 0,
        "versions-MAX_NUM_FORMS": 1000,
    }
    steps = workflow.steps.count()
    data.update(
        {
            "steps-TOTAL_FORMS": steps,
            "steps-INITIAL_FORMS": steps,
            "steps-MIN_NUM_FORMS": 0,
            "steps-MAX_NUM_FORMS": 1000,
        }
    )
    data.update({f"steps-{i}-id": row.pk for i, row in enumerate(workflow.steps.all())})
    return data


def with_prompt(workflow, key: str, prompt: str) -> dict:
    definition = authoring.current_definition(workflow)
    next(step for step in definition["steps"] if step["key"] == key)["prompt"] = prompt
    return definition


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


def test_definition_edits_in_the_admin_are_versioned_and_the_steps_follow(
    admin_client, user, workspace
):
    workflow = make_workflow(user, workspace)
    step_ids = dict(workflow.steps.values_list("key", "id"))
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert "steps:" in page and "key: summary" in page  # the definition, as YAML

    edited = with_prompt(workflow, "actions", "Only {{ steps.summary.title }}")
    response = admin_client.post(url, change_data(workflow, edited))
    assert response.status_code == 302, response.content.decode()[:3000]
    workflow.refresh_from_db()
    assert workflow.version == 2
    assert authoring.current_definition(workflow)["steps"][1]["prompt"] == (
        "Only {{ steps.summary.title }}"
    )
    # The rows are the definition's projection, updated in place.
    rows = {row.key: row for row in workflow.steps.all()}
    assert rows["actions"].prompt == "Only {{ steps.summary.title }}"
    assert {key: row.pk for key, row in rows.items()} == step_ids


def test_bad_definitions_in_the_admin_are_refused(admin_client, user, workspace):
    workflow = make_workflow(user, workspace)
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    bad = with_prompt(workflow, "summary", "{{ steps.actions.output }}")
    response = admin_client.post(url, change_data(workflow, bad))
    assert response.status_code == 200
    assert "which is not upstream" in response.content.decode()
    assert Workflow.objects.get(pk=workflow.pk).version == 1


def test_the_steps_are_read_only_in_the_admin(admin_client, user, workspace):
    workflow = make_workflow(user, workspace)
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    data = change_data(workflow, authoring.current_definition(workflow))
    data["steps-0-prompt"] = "edited in the row"  # ignored: rows are not a form
    assert admin_client.post(url, data).status_code == 302
    workflow.refresh_from_db()
    assert workflow.version == 1  # nothing changed
    assert "edited in the row" not in workflow.steps.get(key="summary").prompt


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
        "status": "active",
        "definition": "name: From the admin\nsteps: []\n",
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
    data["definition"] = (
        "name: From the admin\n"
        "steps:\n"
        "  - {key: only, kind: transform, prompt: '{{ workflow.name }}'}\n"
    )
    assert admin_client.post("/admin/workflows/workflow/add/", data).status_code == 302
    workflow = Workflow.objects.get(name="From the admin")
    assert workflow.version == 1 and workflow.created_by == user
    assert workflow.workspace == workspace and workflow.status == "active"
    assert authoring.current_definition(workflow)["steps"][0]["key"] == "only"
    assert list(workflow.steps.values_list("key", flat=True)) == ["only"]
