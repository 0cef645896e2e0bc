"""The workflows task types, run by a real worker through the tasks app: batch runs and
document exports (and their download)."""

import io
import json
import zipfile

import pytest

from accounts.scoping import Actor
from config.testing import assert_error, wait_until
from tasks import services as tasks
from tasks.models import BackgroundTask
from workflows.engine import start_run
from workflows.models import Run, RunStatus, Trigger
from workflows.tests.engine_support import DIAMOND, make_workflow, wait_for_run

pytestmark = pytest.mark.integration

FINISHED = ("succeeded", "failed", "timed_out", "cancelled")


def wait_for_task(record: BackgroundTask, timeout: float = 60) -> BackgroundTask:
    return wait_until(
        lambda: BackgroundTask.objects.filter(pk=record.pk, status__in=FINISHED).first(),
        timeout=timeout,
        message=f"task {record.pk}",
    )


def test_batch_run_runs_one_workflow_per_csv_row(celery_worker, user, workspace):
    workflow = make_workflow(user, workspace, DIAMOND)
    csv_text = "topic\nkites\ntea\n\n"  # the last row has no topic: a required input
    record = tasks.submit_task(
        actor=Actor(user),
        task_type="workflows.batch_run",
        payload={"workflow_id": workflow.pk, "csv": csv_text, "concurrency": 2},
        workspace=workspace,
    )
    record = wait_for_task(record)

    assert record.status == "succeeded", record.error
    result = record.result
    assert result["rows"] == 2  # csv.DictReader skips the blank line
    assert result["counts"] == {"succeeded": 2}
    runs = Run.objects.filter(pk__in=[r["run_id"] for r in result["runs"]])
    assert {run.inputs["topic"] for run in runs} == {"kites", "tea"}
    assert all(run.trigger == Trigger.BATCH and run.created_by == user for run in runs)


def test_batch_run_reports_rows_that_cannot_start(celery_worker, user, workspace):
    workflow = make_workflow(user, workspace, DIAMOND)
    record = tasks.submit_task(
        actor=Actor(user),
        task_type="workflows.batch_run",
        payload={"workflow_id": workflow.pk, "rows": [{"topic": "ok"}, {"wrong": 1}]},
        workspace=workspace,
    )
    result = wait_for_task(record).result
    assert result["counts"] == {"succeeded": 1, "rejected": 1}
    assert result["runs"][1]["code"] == "invalid_inputs"


def test_export_zips_a_runs_documents_with_a_manifest(
    celery_worker, user, workspace, alice_api, client_for, other_user, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path  # the in-process worker shares these settings
    workflow = make_workflow(user, workspace, DIAMOND)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={"topic": "x"}))
    assert run.status == RunStatus.SUCCEEDED
    record = tasks.submit_task(
        actor=Actor(user),
        task_type="documents.export",
        payload={"run_id": run.pk},
        workspace=workspace,
    )
    record = wait_for_task(record)
    assert record.status == "succeeded", record.error
    assert record.result["documents"] == 4
    assert (tmp_path / record.result["file"]).is_file()

    response = alice_api.get(record.result["download"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    by_key = {doc["step_key"]: doc for doc in manifest["documents"]}
    assert set(by_key) == {"a", "b", "c", "d"}
    assert sorted(by_key["d"]["parents"]) == sorted([by_key["b"]["id"], by_key["c"]["id"]])
    assert archive.read(by_key["c"]["file"]).decode() == "# c\n\nC<Brief>\n"
    assert archive.read(by_key["a"]["file"]).decode() == "# Brief\nAbout x.\n"

    assert_error(client_for(other_user).get(record.result["download"]), 404)
    bad = record.result["download"].replace(".zip", "0.zip")
    assert_error(alice_api.get(bad), 404)
