"""The API without a worker: what is accepted, what is refused (and how), and who sees what.
Without a worker, on-commit dispatch does not run here, so new tasks stay `pending`."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from config.testing import assert_error
from tasks.models import BackgroundTask, Status

TASKS = "/api/v3/background/tasks/"
SUBMIT = "/api/v3/background/tasks/submit"
BULK = "/api/v3/background/tasks/bulk-submit"
BULK_CANCEL = "/api/v3/background/tasks/bulk-cancel"
STATS = "/api/v3/background/service/stats"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_inspect(settings):
    settings.TASKS_INSPECT_TIMEOUT = 0.2


def make_task(workspace, user, **fields) -> BackgroundTask:
    return BackgroundTask.objects.create(
        workspace=workspace,
        submitted_by=user,
        task_type=fields.pop("task_type", "diagnostics.echo"),
        timeout=30,
        **fields,
    )


def test_the_briefs_curl_examples_work_with_a_token(api, user):
    login = api.post(
        "/api/v3/security/auth/login",
        {"username": "alice", "password": "Correct-Horse-42-battery"},
        format="json",
    )
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    response = api.post(
        SUBMIT,
        {"name": "Test Task", "task_type": "data_processing", "priority": "normal"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Test Task" and body["task_type"] == "data_processing"
    assert body["priority"] == "normal" and body["submitted_by"] == "alice"
    stats = api.get(STATS)
    assert stats.status_code == 200, stats.content
    assert stats.json()["by_status"]["pending"] == 1
    assert {"by_type", "duration_ms", "throughput", "queues", "workers"} <= set(stats.json())


def test_trailing_slash_forms_work_too(alice_api):
    response = alice_api.post(SUBMIT + "/", {"task_type": "diagnostics.echo"}, format="json")
    assert response.status_code == 201, response.content


def test_types_list_their_schemas(alice_api):
    response = alice_api.get("/api/v3/background/types/")
    assert response.status_code == 200
    types = {t["name"]: t for t in response.json()["results"]}
    assert types["diagnostics.sleep"]["schema"]["required"] == ["seconds"]
    assert "data_processing" in types
    assert not any(t["system_only"] for t in types.values())  # maintenance is staff-only
    one = alice_api.get("/api/v3/background/types/diagnostics.flaky/")
    assert one.status_code == 200 and one.json()["max_retries"] == 3
    assert_error(alice_api.get("/api/v3/background/types/nope/"), 404, "not_found")
    assert_error(
        alice_api.get("/api/v3/background/types/maintenance.cleanup_tasks/"), 404, "not_found"
    )


def test_submit_uses_the_types_defaults(alice_api, workspace):
    response = alice_api.post(
        SUBMIT, {"task_type": "diagnostics.flaky", "payload": {"fail_times": 1}}, format="json"
    )
    body = response.json()
    assert response.status_code == 201
    assert body["name"] == "diagnostics.flaky" and body["workspace"] == workspace.pk
    assert body["max_retries"] == 3 and body["priority"] == "normal" and body["timeout"] == 300


def test_a_submission_is_queued_after_commit_and_announced(
    alice_api, user, workspace, django_capture_on_commit_callbacks
):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from realtime import groups

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(groups.workspace_group(workspace.pk), channel)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            SUBMIT, {"task_type": "diagnostics.echo", "delay_seconds": 600}, format="json"
        )
    task = BackgroundTask.objects.get(pk=response.json()["id"])
    assert task.status == Status.SCHEDULED and task.queued_at is not None
    (event,) = async_to_sync(layer.receive)(channel)["events"]
    assert event["type"] == "task.scheduled" and event["data"]["id"] == str(task.pk)
    # Clean up the message we just queued (a later test's worker would otherwise get it).
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.post(f"{TASKS}{task.pk}/cancel")


BAD_SUBMISSIONS = [
    ({"task_type": "nope"}, "unknown_task_type", "task_type"),
    ({"task_type": "diagnostics.sleep", "payload": {}}, "invalid_payload", "payload"),
    (
        {"task_type": "diagnostics.sleep", "payload": {"seconds": "soon"}},
        "invalid_payload",
        "payload",
    ),
    ({"task_type": "diagnostics.echo", "payload": [1, 2]}, "validation_error", "payload"),
    (
        {"task_type": "data_processing", "payload": {"template": "{% if %}"}},
        "invalid_payload",
        "payload",
    ),
    ({"task_type": "diagnostics.echo", "priority": "urgent"}, "validation_error", "priority"),
    ({"task_type": "diagnostics.echo", "timeout": 0}, "validation_error", "timeout"),
    ({"task_type": "diagnostics.echo", "timeout": 10**6}, "validation_error", "timeout"),
    ({"task_type": "diagnostics.echo", "max_retries": 99}, "validation_error", "max_retries"),
    ({"task_type": "diagnostics.echo", "delay_seconds": -5}, "validation_error", "delay_seconds"),
    (
        {"task_type": "diagnostics.echo", "scheduled_for": "next tuesday"},
        "validation_error",
        "scheduled_for",
    ),
    (
        {"task_type": "diagnostics.echo", "scheduled_for": "2001-01-01T00:00:00Z"},
        "validation_error",
        "scheduled_for",
    ),
    (
        {
            "task_type": "diagnostics.echo",
            "scheduled_for": "2999-01-01T00:00:00Z",
            "delay_seconds": 5,
        },
        "validation_error",
        "scheduled_for",
    ),
    ({"task_type": "diagnostics.echo", "delay": 5}, "validation_error", "delay"),
    ({"task_type": "maintenance.cleanup_tasks"}, "unknown_task_type", "task_type"),
    ({"payload": {}}, "validation_error", "task_type"),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_SUBMISSIONS)
def test_bad_submissions_get_a_clear_400(alice_api, body, code, field):
    error = assert_error(alice_api.post(SUBMIT, body, format="json"), 400, code)
    assert field in error["details"], error
    assert error["message"]
    assert not BackgroundTask.objects.exists()


def test_malformed_json_is_a_400(alice_api):
    response = alice_api.post(SUBMIT, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_an_idempotency_key_makes_submitting_safe_to_repeat(alice_api):
    body = {"task_type": "diagnostics.echo", "payload": {"a": 1}, "idempotency_key": "k-1"}
    first = alice_api.post(SUBMIT, body, format="json")
    again = alice_api.post(SUBMIT, body, format="json")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert BackgroundTask.objects.count() == 1
    other = alice_api.post(SUBMIT, {**body, "payload": {"a": 2}}, format="json")
    assert_error(other, 409, "idempotency_key_reused")


def test_bulk_submit_queues_all(alice_api):
    items = [{"task_type": "diagnostics.echo", "payload": {"i": i}} for i in range(5)]
    response = alice_api.post(BULK, {"tasks": items}, format="json")
    assert response.status_code == 201, response.content
    assert [t["payload"]["i"] for t in response.json()["tasks"]] == list(range(5))
    assert BackgroundTask.objects.count() == 5


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"task_type": "diagnostics.sleep", "payload": {"seconds": -1}}, "payload"),
        ({"task_type": "diagnostics.echo", "timeout": "abc"}, "timeout"),
        ({"task_type": "diagnostics.echo", "workspace": 1}, "workspace"),
        ({"task_type": "nope"}, "task_type"),
    ],
)
def test_a_bulk_request_with_one_bad_item_queues_nothing_and_names_it(alice_api, bad, field):
    items = [{"task_type": "diagnostics.echo"}, {"task_type": "diagnostics.echo"}, bad]
    error = assert_error(alice_api.post(BULK, {"tasks": items}, format="json"), 400)
    assert list(error["details"]["tasks"]) == ["2"], error
    assert field in error["details"]["tasks"]["2"]
    assert "tasks[2]" in error["message"] and "none was queued" in error["message"]
    assert not BackgroundTask.objects.exists()


def test_bulk_requests_have_limits(alice_api, settings):
    settings.TASKS_BULK_LIMIT = 3
    items = [{"task_type": "diagnostics.echo"}] * 4
    error = assert_error(
        alice_api.post(BULK, {"tasks": items}, format="json"), 400, "bulk_limit_exceeded"
    )
    assert error["details"] == {"limit": 3, "received": 4}
    assert_error(alice_api.post(BULK, {"tasks": []}, format="json"), 400, "validation_error")
    assert_error(alice_api.post(BULK, {"tasks": "x"}, format="json"), 400, "validation_error")
    ids = [str(t.pk) for t in BackgroundTask.objects.all()] + [
        f"00000000-0000-0000-0000-00000000000{i}" for i in range(4)
    ]
    assert_error(
        alice_api.post(BULK_CANCEL, {"ids": ids}, format="json"), 400, "bulk_limit_exceeded"
    )
    assert not BackgroundTask.objects.exists()


def test_duplicate_keys_in_one_bulk_are_refused(alice_api):
    items = [{"task_type": "diagnostics.echo", "idempotency_key": "same"}] * 2
    error = assert_error(alice_api.post(BULK, {"tasks": items}, format="json"), 400)
    assert list(error["details"]["tasks"]) == ["1"]


def test_another_workspaces_task_is_404(client_for, other_user, other_workspace, alice_api):
    theirs = make_task(other_workspace, other_user)
    assert_error(alice_api.get(f"{TASKS}{theirs.pk}/"), 404)
    assert_error(alice_api.post(f"{TASKS}{theirs.pk}/cancel"), 404)
    assert_error(alice_api.post(f"{TASKS}{theirs.pk}/retry"), 404)
    assert_error(alice_api.post(BULK_CANCEL, {"ids": [str(theirs.pk)]}, format="json"), 404)
    assert alice_api.get(TASKS).json()["count"] == 0
    assert client_for(other_user).get(TASKS).json()["count"] == 1
    theirs.refresh_from_db()
    assert theirs.status == Status.PENDING
    response = alice_api.post(
        SUBMIT, {"task_type": "diagnostics.echo", "workspace": other_workspace.pk}, format="json"
    )
    assert_error(response, 400, "validation_error")


def test_viewers_read_but_do_not_submit_or_cancel(
    client_for, other_user, workspace, user, add_member
):
    add_member(workspace, other_user, Role.VIEWER)
    task = make_task(workspace, user)
    viewer = client_for(other_user)
    assert viewer.get(f"{TASKS}{task.pk}/").status_code == 200
    assert_error(viewer.post(f"{TASKS}{task.pk}/cancel"), 403, "insufficient_role")
    response = viewer.post(
        SUBMIT, {"task_type": "diagnostics.echo", "workspace": workspace.pk}, format="json"
    )
    assert_error(response, 403, "insufficient_role")


def test_cancel_then_cancel_again(alice_api, workspace, user):
    task = make_task(workspace, user, status=Status.QUEUED)
    response = alice_api.post(f"{TASKS}{task.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["error"] == "Cancelled by alice."
    error = assert_error(alice_api.post(f"{TASKS}{task.pk}/cancel"), 409, "task_finished")
    assert error["details"] == {"status": "cancelled"}


def test_retry_only_what_failed(alice_api, workspace, user):
    queued = make_task(workspace, user, status=Status.QUEUED)
    done = make_task(workspace, user, status=Status.SUCCEEDED)
    for task in (queued, done):
        assert_error(alice_api.post(f"{TASKS}{task.pk}/retry"), 409, "task_not_retryable")
    failed = make_task(
        workspace, user, status=Status.FAILED, attempts=3, error="boom", finished_at=timezone.now()
    )
    response = alice_api.post(f"{TASKS}{failed.pk}/retry")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending" and body["attempts"] == 0 and body["error"] == ""
    assert body["resubmissions"] == 1 and body["finished_at"] is None


def test_bulk_cancel_reports_what_had_finished(alice_api, workspace, user):
    open_ = [make_task(workspace, user, status=s) for s in (Status.QUEUED, Status.SCHEDULED)]
    done = make_task(workspace, user, status=Status.SUCCEEDED)
    ids = [str(t.pk) for t in [*open_, done]]
    response = alice_api.post(BULK_CANCEL, {"ids": ids}, format="json")
    assert response.status_code == 200, response.content
    assert sorted(response.json()["cancelled"]) == sorted(ids[:2])
    assert response.json()["already_finished"] == [{"id": ids[2], "status": "succeeded"}]
    bad = alice_api.post(BULK_CANCEL, {"ids": ["not-a-uuid"]}, format="json")
    assert_error(bad, 400, "validation_error")


def test_list_filters(alice_api, workspace, user):
    make_task(workspace, user, status=Status.FAILED, priority="high", name="a")
    make_task(workspace, user, status=Status.SUCCEEDED, task_type="data_processing", name="b")
    make_task(workspace, user, status=Status.QUEUED, priority="low", name="c")

    def names(**params):
        response = alice_api.get(TASKS, params)
        assert response.status_code == 200, response.content
        return sorted(t["name"] for t in response.json()["results"])

    assert names() == ["a", "b", "c"]
    assert names(status="failed") == ["a"]
    assert names(status=["failed", "queued"]) == ["a", "c"]
    assert names(priority="low") == ["c"]
    assert names(task_type="data_processing") == ["b"]
    assert names(q="b") == ["b"]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert names(created_after=later) == []
    assert names(created_before=later) == ["a", "b", "c"]
    assert_error(alice_api.get(TASKS, {"status": "bogus"}), 400, "validation_error")
    assert_error(alice_api.get(TASKS, {"created_after": "yesterday"}), 400, "validation_error")


def test_stats_count_the_callers_tasks_only(
    no_worker, alice_api, workspace, user, other_workspace, other_user
):
    now = timezone.now()
    for ms in (10, 20, 30, 40, 1000):
        make_task(workspace, user, status=Status.SUCCEEDED, duration_ms=ms, finished_at=now)
    make_task(workspace, user, status=Status.FAILED, task_type="diagnostics.flaky", finished_at=now)
    make_task(other_workspace, other_user, status=Status.FAILED)
    stats = alice_api.get(STATS).json()
    assert stats["scope"] == "mine" and stats["total"] == 6
    assert stats["by_status"]["succeeded"] == 5 and stats["by_status"]["failed"] == 1
    assert stats["by_type"]["diagnostics.flaky"] == {"total": 1, "failed": 1}
    # Interpolated between closest ranks: 40 + (1000 - 40) * 0.8.
    assert stats["duration_ms"] == {"sample": 5, "p50": 30, "p95": pytest.approx(808)}
    assert stats["throughput"]["last_1_min"] == {"completed": 6, "per_minute": 6.0}
    assert stats["throughput"]["last_15_min"]["per_minute"] == 0.4
    assert stats["workers"] == []  # none is running in this test


def test_service_management_is_for_staff(no_worker, alice_api, user, client_for):
    for method, path in [
        ("get", "/api/v3/background/service/workers"),
        ("post", "/api/v3/background/service/workers/pool"),
        ("post", "/api/v3/background/service/workers/consumers"),
    ]:
        assert_error(getattr(alice_api, method)(path), 403)
    user.is_staff = True
    user.save()
    staff = client_for(user)
    assert staff.get("/api/v3/background/service/workers").json() == {"workers": []}
    bad = staff.post(
        "/api/v3/background/service/workers/pool", {"worker": "w", "action": "explode"}
    )
    assert_error(bad, 400, "validation_error")
    missing = staff.post(
        "/api/v3/background/service/workers/pool", {"worker": "nobody@nowhere", "action": "grow"}
    )
    assert_error(missing, 404, "worker_not_found")
    assert staff.get(STATS, {"scope": "all"}).json()["scope"] == "all"


def test_anonymous_callers_are_refused(api):
    assert_error(api.get(TASKS), 401)
    assert_error(api.post(SUBMIT, {"task_type": "diagnostics.echo"}, format="json"), 401)
