"""End to end through a real Celery worker: the brief's curl example, retries with backoff,
permanent failures and retry from the API, and rules fired by a run and a task."""

import pytest

from accounts.scoping import Actor
from config.testing import wait_until
from notifications.models import Delivery, Rule
from notifications.tests.conftest import SEND
from workflows.engine.runs import reject_step, start_run
from workflows.models import RunStatus
from workflows.tests.engine_support import APPROVAL, make_workflow, run_inline

pytestmark = pytest.mark.integration


def settled(delivery_id, statuses=("sent", "failed")) -> Delivery:
    def done():
        row = Delivery.objects.get(pk=delivery_id)
        return row if row.status in statuses else None

    return wait_until(done, timeout=30, message=f"delivery {delivery_id} to settle")


def test_the_briefs_curl_example_arrives_at_the_smtp_server(local, celery_worker, alice_api):
    body = {
        "channel": "email",
        "recipient": "user@example.com",
        "subject": "Test",
        "message": "Hello",
    }
    response = alice_api.post(SEND, body, format="json")
    assert response.status_code == 202, response.content
    answer = response.json()
    assert answer["channel"] == "email" and answer["subject"] == "Test"
    [queued] = answer["deliveries"]
    assert queued["status"] == "queued" and queued["recipient"] == "user@example.com"

    delivery = settled(queued["id"])
    assert delivery.status == "sent" and delivery.attempts == 1
    mail = wait_until(
        lambda: [m for m in local.mails if m["to"] == ["user@example.com"]], timeout=10
    )[-1]
    assert mail["message"]["Subject"] == "Test"
    assert mail["message"].get_body(preferencelist=("plain",)).get_content().startswith("Hello")


def test_500_twice_then_200_is_retried_and_shows_in_the_history(
    local, celery_worker, alice_api, unique_path
):
    path = unique_path("/flaky") + "/slack"
    sent = alice_api.post(
        SEND, {"channel": "slack", "recipient": local.url(path), "message": "m"}, format="json"
    ).json()
    delivery = settled(sent["deliveries"][0]["id"])
    assert delivery.status == "sent" and delivery.attempts == 3
    assert local.http_state.counts[path] == 3

    history = alice_api.get("/api/v3/notifications/deliveries/", {"status": "sent"}).json()
    row = next(r for r in history["results"] if r["id"] == str(delivery.pk))
    assert row["attempts"] == 3 and row["provider_status"] == 200


def test_a_permanent_failure_fails_at_once_and_can_be_retried(
    local, celery_worker, alice_api, settings, unique_path
):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    path = unique_path("/flaky") + "/bad"  # 500, 500, then 400 forever
    sent = alice_api.post(
        SEND, {"channel": "discord", "recipient": local.url(path), "message": "m"}, format="json"
    ).json()
    delivery = settled(sent["deliveries"][0]["id"])
    assert delivery.status == "failed" and delivery.attempts == 2
    assert delivery.error_code == "http_500"

    failed = alice_api.get("/api/v3/notifications/deliveries/", {"status": "failed"}).json()
    assert str(delivery.pk) in [r["id"] for r in failed["results"]]
    retried = alice_api.post(f"/api/v3/notifications/deliveries/{delivery.pk}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "queued"
    again = settled(delivery.pk)
    # The third answer is the 400: permanent, so one more attempt and no other.
    assert again.status == "failed" and again.attempts == 3 and again.provider_status == 400
    assert local.http_state.counts[path] == 3
    assert (
        alice_api.post(f"/api/v3/notifications/deliveries/{delivery.pk}/retry").status_code == 202
    )


def test_a_rejected_run_with_slack_rules_produces_the_slack_payloads(
    local, celery_worker, alice_api, user, workspace, unique_path
):
    path = unique_path("/slack")
    channel = alice_api.post(
        "/api/v3/notifications/channels/",
        {
            "workspace": workspace.pk,
            "kind": "slack",
            "name": "ops",
            "secrets": {"url": local.url(path)},
        },
        format="json",
    ).json()
    for event in ("run.waiting", "run.failed"):
        response = alice_api.post(
            "/api/v3/notifications/rules/",
            {"workspace": workspace.pk, "name": event, "event": event, "channel": channel["id"]},
            format="json",
        )
        assert response.status_code == 201, response.content
    workflow = make_workflow(user, workspace, APPROVAL)
    run = run_inline(
        lambda d: start_run(
            actor=Actor(user), workflow=workflow, inputs={"product": "kit"}, dispatcher=d
        )
    )
    assert run.status in (RunStatus.WAITING, RunStatus.RUNNING, RunStatus.QUEUED)
    wait_until(lambda: len(local.http_state.on(path)) >= 1, timeout=30, message="waiting alert")
    run_inline(
        lambda d: reject_step(actor=Actor(user), run=run, key="review", comment="no", dispatcher=d)
    )
    wait_until(lambda: len(local.http_state.on(path)) >= 2, timeout=30, message="failure alert")

    waiting, failed = (r.json for r in local.http_state.on(path))
    assert "waits for approval" in waiting["text"]
    assert failed["blocks"][0]["text"]["text"] == f"Run #{run.pk} of Press kit failed"
    assert "was rejected" in failed["text"]
    rule = Rule.objects.get(event="run.failed")
    assert rule.notifications.get().deliveries.get().status == "sent"


def test_a_failed_background_task_fires_its_rule(local, celery_worker, alice_api, workspace, user):
    alice_api.post(
        "/api/v3/notifications/rules/",
        {
            "workspace": workspace.pk,
            "name": "tasks",
            "event": "task.failed",
            "channel_kind": "in_app",
        },
        format="json",
    )
    response = alice_api.post(
        "/api/v3/background/tasks/submit",
        {"task_type": "diagnostics.flaky", "payload": {"fail_times": 1}, "max_retries": 0},
        format="json",
    )
    assert response.status_code == 201, response.content
    item = wait_until(
        lambda: user.inbox_items.first(), timeout=30, message="the in-app notification"
    )
    assert "diagnostics.flaky" in item.message and "failed" in item.message
