"""With a real Celery worker: runs, progress, retries, time limits, delays, cancel, priorities,
stats. Each test polls the database (through the API) until the worker has done its part."""

import pytest

from config.testing import wait_until
from tasks.models import FINISHED, BackgroundTask

pytestmark = pytest.mark.integration


def finished(task_of, task_id, timeout=20):
    last = {}

    def done():
        last.update(task_of(task_id))
        return last if last["status"] in FINISHED else None

    try:
        return wait_until(done, timeout=timeout)
    except AssertionError:
        raise AssertionError(f"task did not finish: {last}") from None


def test_a_task_runs_and_reports_progress(celery_worker, fast_retries, submit, task_of):
    task = submit(task_type="diagnostics.sleep", name="nap", payload={"seconds": 1.5})
    assert task["status"] == "queued"
    seen = wait_until(
        lambda: (t := task_of(task["id"]))["status"] == "running" and 0 < t["progress"] < 100 and t,
        message="progress while running",
    )
    assert seen["progress_message"].startswith("slept ")
    done = finished(task_of, task["id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 100 and done["attempts"] == 1
    assert done["result"]["slept_seconds"] >= 1.5
    assert done["duration_ms"] >= 1500 and done["worker"]


def test_data_processing_returns_the_processed_records(celery_worker, submit, task_of):
    task = submit(
        task_type="data_processing",
        payload={
            "records": [{"name": "ada"}, {"name": "grace"}],
            "template": "Hello {{ name|title }}",
            "output_field": "greeting",
        },
    )
    done = finished(task_of, task["id"])
    assert done["status"] == "succeeded", done
    assert [r["greeting"] for r in done["result"]["records"]] == ["Hello Ada", "Hello Grace"]


def test_flaky_succeeds_after_its_retries(celery_worker, fast_retries, submit, task_of):
    task = submit(task_type="diagnostics.flaky", payload={"fail_times": 2}, max_retries=3)
    done = finished(task_of, task["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 3
    assert done["result"] == {"succeeded_on_attempt": 3}


def test_flaky_fails_when_its_retries_run_out(celery_worker, fast_retries, submit, task_of):
    task = submit(task_type="diagnostics.flaky", payload={"fail_times": 3}, max_retries=1)
    done = finished(task_of, task["id"])
    assert done["status"] == "failed", done
    assert done["attempts"] == 2
    assert done["error"].startswith("Gave up after 2 attempt(s): planned failure 2")


def test_a_task_past_its_time_limit_times_out_in_the_threads_pool(celery_worker, submit, task_of):
    # The threads pool has no signals: the limit holds at the task's next check.
    task = submit(task_type="diagnostics.sleep", payload={"seconds": 30}, timeout=1)
    done = finished(task_of, task["id"])
    assert done["status"] == "timed_out", done
    assert "time limit of 1s" in done["error"]


def test_a_delayed_task_waits_and_a_cancelled_one_never_runs(single_worker, submit, task_of):
    delayed = submit(task_type="diagnostics.echo", payload={"n": 1}, delay_seconds=4)
    doomed = submit(task_type="diagnostics.echo", payload={"n": 2}, delay_seconds=0.5)
    assert delayed["status"] == doomed["status"] == "scheduled"
    response = single_worker_cancel(doomed["id"], task_of)
    assert response["status"] == "cancelled"
    now = submit(task_type="diagnostics.echo", payload={"n": 3})
    assert finished(task_of, now["id"])["status"] == "succeeded"
    assert task_of(delayed["id"])["status"] == "scheduled"  # still waiting for its time
    done = finished(task_of, delayed["id"])
    assert done["status"] == "succeeded"
    assert done["started_at"] >= done["scheduled_for"]
    # The cancelled one's time came and went with the delayed one's: it never started.
    cancelled = task_of(doomed["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["attempts"] == 0 and cancelled["started_at"] is None


def single_worker_cancel(task_id, task_of):
    from rest_framework.test import APIClient

    from accounts.models import User

    client = APIClient()
    client.force_authenticate(User.objects.get(username="alice"))
    response = client.post(f"/api/v3/background/tasks/{task_id}/cancel")
    assert response.status_code == 200, response.content
    return response.json()


def test_cancelling_a_running_task_stops_it(single_worker, alice_api, submit, task_of):
    long = submit(task_type="diagnostics.sleep", payload={"seconds": 60})
    wait_until(lambda: task_of(long["id"])["status"] == "running", message="the sleep to start")
    response = alice_api.post(f"/api/v3/background/tasks/{long['id']}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    # One slot: the next task can only run once the cancelled one has let go of it.
    after = submit(task_type="diagnostics.echo", payload={})
    assert finished(task_of, after["id"])["status"] == "succeeded"
    assert task_of(long["id"])["status"] == "cancelled"


def test_high_priority_jobs_start_before_earlier_low_ones(
    single_worker, alice_api, submit, task_of
):
    blocker = submit(task_type="diagnostics.sleep", payload={"seconds": 60}, priority="normal")
    wait_until(lambda: task_of(blocker["id"])["status"] == "running", message="the blocker")
    lows = [submit(task_type="diagnostics.echo", name=f"low-{i}", priority="low") for i in range(3)]
    highs = [
        submit(task_type="diagnostics.echo", name=f"high-{i}", priority="high") for i in range(3)
    ]
    alice_api.post(f"/api/v3/background/tasks/{blocker['id']}/cancel")  # free the one slot
    ids = [t["id"] for t in lows + highs]
    wait_until(
        lambda: all(task_of(i)["status"] == "succeeded" for i in ids), message="all six to run"
    )
    order = list(
        BackgroundTask.objects.filter(pk__in=ids)
        .order_by("started_at")
        .values_list("name", flat=True)
    )
    assert order[:3] == ["high-0", "high-1", "high-2"], order
    assert sorted(order[3:]) == ["low-0", "low-1", "low-2"], order


def test_stats_reflect_what_happened(celery_worker, fast_retries, alice_api, submit, task_of):
    ok = [submit(task_type="diagnostics.echo", payload={"i": i}) for i in range(3)]
    bad = submit(task_type="diagnostics.flaky", payload={"fail_times": 1}, max_retries=0)
    for task in [*ok, bad]:
        finished(task_of, task["id"])
    stats = alice_api.get("/api/v3/background/service/stats").json()
    assert stats["total"] == 4
    assert stats["by_status"]["succeeded"] == 3 and stats["by_status"]["failed"] == 1
    assert stats["by_type"]["diagnostics.echo"] == {"total": 3, "succeeded": 3}
    assert stats["by_type"]["diagnostics.flaky"] == {"total": 1, "failed": 1}
    assert stats["duration_ms"]["sample"] == 3 and stats["duration_ms"]["p50"] is not None
    assert stats["throughput"]["last_1_min"]["completed"] == 4
    assert set(stats["queues"]) == {"high", "default", "low"}
    assert all(depth == 0 for depth in stats["queues"].values()), stats["queues"]
    (worker,) = stats["workers"]
    assert worker["name"] == celery_worker.hostname
    assert worker["concurrency"] == 2 and set(worker["queues"]) == {"high", "default", "low"}


def test_time_limits_and_pool_control_with_a_prefork_worker(
    prefork_worker, make_user, client_for, submit, task_of
):
    soft = submit(
        task_type="diagnostics.sleep", payload={"seconds": 30, "mode": "blocking"}, timeout=1
    )
    hard = submit(
        task_type="diagnostics.sleep", payload={"seconds": 30, "mode": "stubborn"}, timeout=1
    )
    soft_done = finished(task_of, soft["id"])
    assert soft_done["status"] == "timed_out", soft_done
    assert "time limit" in soft_done["error"]
    hard_done = finished(task_of, hard["id"])
    assert hard_done["status"] == "timed_out", hard_done
    assert "hard time limit" in hard_done["error"]

    staff = make_user("operator")
    staff.is_staff = True
    staff.save()
    ops = client_for(staff)
    grown = ops.post(
        "/api/v3/background/service/workers/pool",
        {"worker": prefork_worker, "action": "grow", "n": 1},
        format="json",
    )
    assert grown.status_code == 200, grown.content

    def worker():
        workers = ops.get("/api/v3/background/service/workers", {"worker": prefork_worker}).json()[
            "workers"
        ]
        return workers[0] if workers else {}

    wait_until(lambda: worker().get("processes") == 3, message="the pool to grow")
    paused = ops.post(
        "/api/v3/background/service/workers/consumers",
        {"worker": prefork_worker, "action": "cancel", "queue": "low"},
        format="json",
    )
    assert paused.status_code == 200, paused.content
    wait_until(lambda: set(worker().get("queues", ())) == {"high", "default"})
    low = submit(task_type="diagnostics.echo", payload={}, priority="low")
    high = submit(task_type="diagnostics.echo", payload={}, priority="high")
    assert finished(task_of, high["id"])["status"] == "succeeded"
    assert task_of(low["id"])["status"] == "queued"  # nobody consumes `low` now
    resumed = ops.post(
        "/api/v3/background/service/workers/consumers",
        {"worker": prefork_worker, "action": "add", "queue": "low"},
        format="json",
    )
    assert resumed.status_code == 200, resumed.content
    assert finished(task_of, low["id"])["status"] == "succeeded"


def test_a_task_due_beyond_the_horizon_waits_in_the_database(
    single_worker, settings, submit, task_of
):
    from tasks import dispatch

    settings.TASKS_ETA_HORIZON = 1
    far = submit(task_type="diagnostics.echo", payload={"far": True}, delay_seconds=2.5)
    assert far["status"] == "scheduled" and far["queued_at"] is None  # no message yet
    assert dispatch.release_due() == 0  # not within the horizon yet

    def released_and_done():
        dispatch.release_due()  # what the maintenance.release_scheduled beat job does
        return task_of(far["id"])["status"] == "succeeded"

    wait_until(released_and_done, message="the far task to be released and run")
    done = task_of(far["id"])
    assert done["started_at"] >= done["scheduled_for"] and done["attempts"] == 1


def test_a_worker_announces_each_state_change_over_the_channel_layer(
    celery_worker, settings, submit, task_of, user, workspace
):
    import uuid

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from realtime import groups

    # The Redis layer: events cross from the worker's threads to this one as they would
    # cross from a worker process to a web process.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex[:8]}"},
        }
    }
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(groups.workspace_group(workspace.pk), channel)
    task = submit(task_type="diagnostics.flaky", payload={"fail_times": 1}, max_retries=1)
    finished(task_of, task["id"])

    async def collect():
        import asyncio

        seen = []
        while not any(event_type == "task.succeeded" for event_type, _ in seen):
            message = await asyncio.wait_for(layer.receive(channel), timeout=10)
            seen += [
                (e["type"], e["data"]["seq"])
                for e in message["events"]
                if e["data"]["id"] == task["id"]
            ]
        return [event_type for event_type, _ in seen], [n for _, n in seen]

    seen, seqs = async_to_sync(collect)()
    # `queued` comes from this process and may cross `started` from the worker on the way.
    assert "task.queued" in seen
    life = ["task.queued", "task.started", "task.retrying", "task.started", "task.succeeded"]
    # ... and `seq` puts them back in the order of the task's life, whatever order they came in.
    assert [event_type for _, event_type in sorted(zip(seqs, seen, strict=True))] == life
    assert len(set(seqs)) == len(seqs)  # no two steps of its life share a place
    seen.remove("task.queued")
    assert seen == life[1:]
    async_to_sync(layer.flush)()


def test_a_pool_that_cannot_be_resized_says_so(celery_worker, settings, make_user, client_for):
    from config.testing import assert_error

    settings.TASKS_INSPECT_TIMEOUT = 1.0
    staff = make_user("operator")
    staff.is_staff = True
    staff.save()
    response = client_for(staff).post(
        "/api/v3/background/service/workers/pool",
        {"worker": celery_worker.hostname, "action": "grow"},
        format="json",
    )
    error = assert_error(response, 409, "worker_refused")
    assert error["details"]["worker"] == celery_worker.hostname
