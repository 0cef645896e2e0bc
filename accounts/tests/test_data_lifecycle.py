"""Data lifecycle: a workspace's export archive (a background task its owners download) and
retention of runs, documents and AI usage (off by default; documents that kept documents were
made from are kept)."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from accounts.models import Role
from accounts.retention import apply_retention
from accounts.scoping import Actor
from ai.models import UsageRecord
from audit.models import SecurityEvent
from config.testing import assert_error, wait_until
from tasks.models import BackgroundTask
from tasks.registry import get_task_type
from workflows.engine import start_run
from workflows.models import Document, Run, RunStatus
from workflows.tests.engine_support import DIAMOND, make_workflow, run_inline, wait_for_run

FINISHED = ("succeeded", "failed", "timed_out", "cancelled")


def wait_for_task(task_id) -> BackgroundTask:
    return wait_until(
        lambda: BackgroundTask.objects.filter(pk=task_id, status__in=FINISHED).first(),
        timeout=60,
        message=f"task {task_id}",
    )


@pytest.mark.integration
def test_an_export_archive_opens_and_holds_the_workflows_and_documents(
    celery_worker,
    user,
    workspace,
    alice_api,
    client_for,
    other_user,
    add_member,
    settings,
    tmp_path,
):
    settings.MEDIA_ROOT = tmp_path  # the in-process worker shares these settings
    from accounts import services

    team = services.create_workspace(creator=user, name="Team")
    add_member(team, other_user, Role.ADMIN)
    workflow = make_workflow(user, team, DIAMOND)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={"topic": "kites"}))
    assert run.status == RunStatus.SUCCEEDED
    UsageRecord.objects.create(workspace=team, user=user, model="offline/x", provider="offline")

    assert_error(client_for(other_user).post(f"/api/v3/workspaces/{team.pk}/export"), 403)
    response = alice_api.post(f"/api/v3/workspaces/{team.pk}/export")
    assert response.status_code == 202, response.content
    record = wait_for_task(response.json()["task_id"])
    assert record.status == "succeeded", record.error
    assert record.task_type == "accounts.export_workspace"
    assert SecurityEvent.objects.filter(kind="workspace.exported", workspace=team).exists()

    download = alice_api.get(record.result["download"])
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = archive.namelist()
    (workflow_file,) = [n for n in names if n.startswith("workflows/")]
    definition = yaml.safe_load(archive.read(workflow_file))
    assert [step["key"] for step in definition["steps"]] == ["a", "b", "c", "d"]
    documents = [n for n in names if n.startswith("documents/run-") and n.endswith(".md")]
    assert len(documents) == 4
    lineage = {d["step_key"]: d for d in json.loads(archive.read("documents/lineage.json"))}
    d_text = archive.read(lineage["d"]["file"]).decode()
    assert d_text.startswith("---\n") and "parents:\n  - id:" in d_text
    assert sorted(lineage["d"]["parents"]) == sorted([lineage["b"]["id"], lineage["c"]["id"]])
    runs = json.loads(archive.read("runs.json"))
    assert [r["id"] for r in runs] == [run.pk]
    assert "offline/x" in archive.read("usage.csv").decode()
    meta = json.loads(archive.read("workspace.json"))
    assert {m["username"]: m["role"] for m in meta["members"]} == {
        "alice": "owner",
        "mallory": "admin",
    }

    # Owners only; another workspace's download path is 404.
    assert_error(client_for(other_user).get(record.result["download"]), 403)
    mine = record.result["download"].replace(f"/{team.pk}/", f"/{workspace.pk}/")
    assert_error(alice_api.get(mine), 404)
    assert_error(alice_api.get(f"/api/v3/workspaces/{team.pk}/exports/x.zip"), 404)


@pytest.fixture
def diamond_runs(transactional_db, user, workspace):
    workflow = make_workflow(user, workspace, DIAMOND)

    def one() -> Run:
        return run_inline(
            lambda inline: start_run(
                actor=Actor(user), workflow=workflow, inputs={"topic": "t"}, dispatcher=inline
            )
        )

    return one


def _age(queryset, days: int) -> None:
    queryset.update(created_at=timezone.now() - timedelta(days=days))


def _docs(run) -> dict[str, Document]:
    return {d.step_key: d for d in Document.objects.filter(run=run)}


def test_retention_is_off_by_default(diamond_runs, settings):
    run = diamond_runs()
    _age(Run.objects.all(), 1000)
    _age(Document.objects.all(), 1000)
    assert apply_retention()["deleted"] == {}
    assert Run.objects.filter(pk=run.pk).exists() and Document.objects.count() == 4


def test_retention_deletes_old_data_but_keeps_what_kept_documents_were_made_from(
    diamond_runs, settings, user, workspace
):
    settings.RUN_RETENTION_DAYS = 30
    settings.DOCUMENT_RETENTION_DAYS = 30
    settings.USAGE_RETENTION_DAYS = 30
    old_run, mixed_run, new_run = diamond_runs(), diamond_runs(), diamond_runs()
    _age(Run.objects.filter(pk=old_run.pk), 60)
    _age(Document.objects.filter(run=old_run), 60)
    # In the mixed run (itself recent), a and b are old but c and d (made from a, b and c)
    # are not.
    mixed = _docs(mixed_run)
    _age(Document.objects.filter(pk__in=[mixed["a"].pk, mixed["b"].pk]), 60)
    old_usage = UsageRecord.objects.create(workspace=workspace, user=user, model="m", provider="p")
    _age(UsageRecord.objects.filter(pk=old_usage.pk), 60)
    new_usage = UsageRecord.objects.create(workspace=workspace, user=user, model="m", provider="p")

    result = apply_retention()
    assert result["deleted"] == {"runs": 1, "documents": 4, "usage": 1}
    assert not Run.objects.filter(pk=old_run.pk).exists()
    assert Run.objects.filter(pk__in=[mixed_run.pk, new_run.pk]).count() == 2
    assert set(_docs(mixed_run)) == {"a", "b", "c", "d"}  # kept: their children are kept
    assert len(_docs(new_run)) == 4
    assert list(UsageRecord.objects.values_list("pk", flat=True)) == [new_usage.pk]


def test_a_kept_document_made_from_an_old_runs_document_keeps_that_run(diamond_runs, settings):
    settings.RUN_RETENTION_DAYS = 30
    old_run, new_run = diamond_runs(), diamond_runs()
    _age(Run.objects.filter(pk=old_run.pk), 60)
    _age(Document.objects.filter(run=old_run), 60)
    _docs(new_run)["a"].parents.add(_docs(old_run)["d"])  # lineage across runs (a re-run's)
    assert apply_retention()["deleted"] == {"runs": 0, "documents": 0, "usage": 0}
    assert len(_docs(old_run)) == 4  # d is kept, and what d was made from


def test_document_retention_alone_keeps_runs(diamond_runs, settings):
    settings.DOCUMENT_RETENTION_DAYS = 7
    run = diamond_runs()
    _age(Document.objects.filter(run=run), 8)
    assert apply_retention()["deleted"] == {"runs": 0, "documents": 4, "usage": 0}
    assert Run.objects.filter(pk=run.pk).exists()


def test_retention_is_a_nightly_system_task_with_a_stable_name():
    ttype = get_task_type("accounts.retention")
    assert ttype.system_only and ttype.schedule == {"crontab": "45 3 * * *"}
    assert get_task_type("accounts.export_workspace").schema["required"] == ["workspace_id"]


def test_a_workspace_sets_its_own_retention(diamond_runs, settings, user, workspace, alice_api):
    from accounts import services

    settings.RUN_RETENTION_DAYS = 30
    team = services.create_workspace(creator=user, name="Team")
    team_workflow = make_workflow(user, team, DIAMOND)
    kept_here = diamond_runs()  # in alice's personal workspace, which keeps runs for ever
    team_run = run_inline(
        lambda inline: start_run(
            actor=Actor(user), workflow=team_workflow, inputs={"topic": "t"}, dispatcher=inline
        )
    )
    _age(Run.objects.all(), 10)
    _age(Document.objects.all(), 10)

    url = f"/api/v3/workspaces/{workspace.pk}/settings"
    assert_error(alice_api.patch(url, {"run_retention_days": -1}, format="json"), 400)
    response = alice_api.patch(url, {"run_retention_days": 0}, format="json")
    assert response.status_code == 200 and response.json()["run_retention_days"] == 0
    team_url = f"/api/v3/workspaces/{team.pk}/settings"
    assert (
        alice_api.patch(team_url, {"document_retention_days": 5}, format="json").status_code == 200
    )

    result = apply_retention()
    # The team's documents (10 days > 5) go; its run is 10 days old (< the service's 30).
    assert result["deleted"] == {"runs": 0, "documents": 4, "usage": 0}
    assert Run.objects.filter(pk=team_run.pk).exists() and not _docs(team_run)
    assert len(_docs(kept_here)) == 4

    _age(Run.objects.all(), 40)
    assert apply_retention()["deleted"]["runs"] == 1  # the team's; alice's own keeps hers
    assert Run.objects.filter(pk=kept_here.pk).exists()
