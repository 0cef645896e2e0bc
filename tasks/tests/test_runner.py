"""The worker side, called directly (no broker delivery): claims, outcomes, events."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from realtime import groups
from tasks import registry, runner, services
from tasks.models import BackgroundTask, Status
from tasks.registry import task_type

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def scratch_registry(monkeypatch, settings):
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    settings.TASKS_RETRY_BASE_DELAY = 0.01


@pytest.fixture
def queued(user, workspace):
    def make(task_type="diagnostics.echo", payload=None, **fields):
        return services.submit_task(
            actor=user, task_type=task_type, payload=payload or {}, **fields
        )

    return make


def listen(group):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    def drain():
        types = []
        while _pending(layer, channel):
            types += [e["type"] for e in async_to_sync(layer.receive)(channel)["events"]]
        return types

    return drain


def _pending(layer, channel) -> bool:
    queue = layer.channels.get(channel)
    return bool(queue and not queue.empty())


def test_a_run_succeeds_and_publishes_its_states(queued, user, workspace):
    drain = listen(groups.user_group(user.pk))
    task = queued("data_processing", {"records": [{"a": " x "}, {"a": "y "}], "operation": "strip"})
    assert runner.run(str(task.pk), worker="w1") == Status.SUCCEEDED
    task.refresh_from_db()
    assert task.status == Status.SUCCEEDED and task.attempts == 1 and task.progress == 100
    assert task.result["records"] == [{"a": "x"}, {"a": "y"}]
    assert task.worker == "w1" and task.duration_ms is not None and task.finished_at
    events = drain()
    assert events[0] == "task.started" and events[-1] == "task.succeeded"
    assert "task.progress" in events


def test_a_second_delivery_does_nothing(queued):
    task = queued()
    assert runner.run(str(task.pk)) == Status.SUCCEEDED
    assert runner.run(str(task.pk)) == "skipped:succeeded"
    task.refresh_from_db()
    assert task.attempts == 1


def test_a_cancelled_task_is_not_run(queued, user):
    task = queued()
    services.cancel_task(actor=user, task=task)
    assert runner.run(str(task.pk)) == "skipped:cancelled"
    assert runner.run("00000000-0000-0000-0000-000000000000") == "missing"


def test_what_a_task_returns_after_being_cancelled_is_discarded(queued, user):
    @task_type("tests.self_cancelling", schema={"type": "object"}, description="x")
    def self_cancelling(ctx, payload):
        services.cancel_task(actor=None, task=ctx.record)
        return {"late": True}  # never calls check_cancelled

    task = queued("tests.self_cancelling")
    assert runner.run(str(task.pk)) == "discarded"
    task.refresh_from_db()
    assert task.status == Status.CANCELLED and task.result is None


def test_errors_fail_at_once_with_the_traceback(queued):
    @task_type("tests.broken", schema={"type": "object"}, description="x", max_retries=5)
    def broken(ctx, payload):
        raise ZeroDivisionError("no")

    task = queued("tests.broken")
    assert runner.run(str(task.pk)) == Status.FAILED
    task.refresh_from_db()
    assert task.error == "ZeroDivisionError: no" and "Traceback" in task.traceback
    assert task.attempts == 1  # not transient: no retry


def test_a_result_that_is_not_json_fails_the_task(queued):
    @task_type("tests.objecty", schema={"type": "object"}, description="x")
    def objecty(ctx, payload):
        return {"thing": object()}

    task = queued("tests.objecty")
    assert runner.run(str(task.pk)) == Status.FAILED
    task.refresh_from_db()
    assert task.error.startswith("TypeError")


def test_transient_errors_schedule_a_retry_with_backoff(queued):
    task = queued("diagnostics.flaky", {"fail_times": 5}, max_retries=1)
    assert runner.run(str(task.pk)) == "retrying"
    task.refresh_from_db()
    assert task.status == Status.RETRYING and task.run_after is not None
    assert task.error == "Attempt 1 failed: planned failure 1 of 5"
    # The retry message carries a new id; running it again is the second (last) attempt.
    BackgroundTask.objects.filter(pk=task.pk).update(run_after=None)
    assert runner.run(str(task.pk)) == Status.FAILED
    task.refresh_from_db()
    assert task.attempts == 2 and task.error.startswith("Gave up after 2 attempt(s)")


def test_an_unknown_type_at_run_time_fails_cleanly(queued):
    task = queued()
    BackgroundTask.objects.filter(pk=task.pk).update(task_type="gone.away")
    assert runner.run(str(task.pk)) == Status.FAILED
    task.refresh_from_db()
    assert "gone.away" in task.error


def test_a_hard_kill_is_recorded_as_timed_out(queued):
    task = queued()
    BackgroundTask.objects.filter(pk=task.pk).update(status=Status.RUNNING, attempts=1)
    assert runner.mark_killed(str(task.pk), reason="Time limit exceeded: killed.")
    task.refresh_from_db()
    assert task.status == Status.TIMED_OUT and task.error == "Time limit exceeded: killed."
    assert not runner.mark_killed(str(task.pk), reason="again")


def test_a_claim_wins_even_if_dispatch_marked_the_task_queued_meanwhile(queued):
    # Regression: the worker read `pending`, the web process then wrote `queued`; a claim that
    # insisted on the status it had read lost, acked the message, and the task never ran.
    task = queued()
    assert task.status == Status.PENDING  # on-commit dispatch does not run in this test
    BackgroundTask.objects.filter(pk=task.pk).update(status=Status.QUEUED)
    claimed = runner.claim(task.pk, worker="w", now=timezone.now())
    assert claimed.status == Status.RUNNING and claimed.attempts == 1
    assert BackgroundTask.objects.get(pk=task.pk).status == Status.RUNNING


def test_only_one_of_two_deliveries_claims(queued):
    task = queued()
    now = timezone.now()
    claimed = runner.claim(str(task.pk), worker="a", now=now)
    assert claimed.worker == "a" and claimed.started_at == now
    assert claimed.payload == {} and claimed.submitted_by_id == task.submitted_by_id
    grace = settings.TASKS_HARD_LIMIT_GRACE
    deadline = now + timedelta(seconds=task.timeout + grace)
    assert abs(claimed.deadline_at - deadline) < timedelta(milliseconds=1)  # SQLite: to the ms
    assert runner.claim(str(task.pk), worker="b", now=timezone.now()) is None
    assert BackgroundTask.objects.get(pk=task.pk).worker == "a"
    assert runner.run(str(task.pk)) == "skipped:running"


def test_an_early_delivery_is_not_claimed_but_sent_again(queued):
    task = queued(delay_seconds=60)
    assert runner.claim(str(task.pk), worker="a", now=timezone.now()) is None
    assert runner.run(str(task.pk)) == "early"
    assert BackgroundTask.objects.get(pk=task.pk).attempts == 0


def test_a_missing_record_is_reported(queued):
    assert runner.run("0" * 32) == "missing"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"operation": "copy"}, [{"name": " Ada ", "bio": "", "n": 1}]),
        ({"operation": "select", "fields": ["n"]}, [{"n": 1}]),
        (
            {"operation": "rename", "mapping": {"n": "count"}},
            [{"name": " Ada ", "bio": "", "count": 1}],
        ),
        ({"operation": "strip", "fields": ["name"]}, [{"name": "Ada", "bio": "", "n": 1}]),
        ({"operation": "uppercase"}, [{"name": " ADA ", "bio": "", "n": 1}]),
        ({"operation": "lowercase"}, [{"name": " ada ", "bio": "", "n": 1}]),
        ({"operation": "drop_empty"}, [{"name": " Ada ", "n": 1}]),
        (
            {"operation": "word_count", "fields": ["name"]},
            [{"name": " Ada ", "bio": "", "n": 1, "name_words": 1}],
        ),
        (
            {"template": "{{ name|cut:' ' }}#{{ n|add:1 }}"},
            [{"name": " Ada ", "bio": "", "n": 1, "output": "Ada#2"}],
        ),
    ],
)
def test_data_processing_operations(queued, payload, expected):
    task = queued("data_processing", {"records": [{"name": " Ada ", "bio": "", "n": 1}], **payload})
    assert runner.run(str(task.pk)) == Status.SUCCEEDED
    task.refresh_from_db()
    assert task.result["records"] == expected and task.result["count"] == 1


def test_cancel_is_announced_after_commit(queued, user, django_capture_on_commit_callbacks):
    task = queued()
    drain = listen(groups.user_group(user.pk))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.cancel_task(actor=user, task=task)
    assert drain() == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert drain() == ["task.cancelled"]


def test_seq_grows_over_a_life_a_retry_from_the_api_starts_again(
    queued, user, django_capture_on_commit_callbacks
):
    @task_type("tests.broken", schema={"type": "object"}, description="x")
    def broken(ctx, payload):
        raise ZeroDivisionError("no")

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(groups.user_group(user.pk), channel)
    task = queued("tests.broken")  # pending: this test's transaction never commits
    assert runner.run(str(task.pk)) == Status.FAILED
    with django_capture_on_commit_callbacks(execute=True):  # sends, marks queued, announces
        services.retry_task(actor=user, task=BackgroundTask.objects.get(pk=task.pk))
    assert runner.run(str(task.pk)) == Status.FAILED
    seen = []
    while _pending(layer, channel):
        message = async_to_sync(layer.receive)(channel)
        seen += [(e["type"], e["data"]["seq"]) for e in message["events"]]
    assert [event_type for event_type, _ in seen] == [
        "task.started",
        "task.failed",
        "task.queued",  # the retry: attempts start from 0 again, seq does not
        "task.started",
        "task.failed",
    ]
    seqs = [n for _, n in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seen


def test_the_context_knows_who_asked(queued, user, workspace):
    seen = {}

    @task_type("tests.whoami", schema={"type": "object"}, description="x")
    def whoami(ctx, payload):
        seen.update(
            user_id=ctx.user_id, workspace_id=ctx.workspace_id, actor=ctx.actor, attempt=ctx.attempt
        )
        return {}

    task = queued("tests.whoami")
    runner.run(str(task.pk))
    assert seen["user_id"] == user.pk and seen["workspace_id"] == workspace.pk
    assert seen["actor"].user == user and seen["attempt"] == 1


def test_a_run_is_two_statements_the_claim_and_the_outcome(queued, django_assert_num_queries):
    # No read before the claim, and no lookup of the submitter unless the job writes an
    # audit row (acting_for looks them up lazily).
    task = queued()
    with django_assert_num_queries(2):
        assert runner.run(str(task.pk), worker="w") == Status.SUCCEEDED


def test_a_job_that_writes_an_audit_row_names_its_submitter(queued, user, workspace):
    from audit.models import AuditLogEntry
    from audit.services import record_change

    @task_type("tests.audits", schema={"type": "object"}, description="x")
    def audits(ctx, payload):
        record_change(model="tasks.BackgroundTask", object_id=str(ctx.task_id), event="t.did")
        return {}

    task = queued("tests.audits")
    assert runner.run(str(task.pk)) == Status.SUCCEEDED
    row = AuditLogEntry.objects.get(additional_data__event="t.did")
    assert row.actor_id == user.pk and row.actor_email == user.email
