"""Deliveries due together travel in batches: one broker message, one claim and one outcome
write per batch, and still at most one send per delivery and attempt. The bulk API answers
with a fixed number of queries however many items it has."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.testing import wait_until
from notifications import runner
from notifications.models import Delivery
from notifications.tests.conftest import BULK

pytestmark = pytest.mark.django_db


def _bulk(api, items):
    response = api.post(BULK, {"notifications": items}, format="json")
    assert response.status_code == 202, response.content
    return [d["id"] for n in response.json()["notifications"] for d in n["deliveries"]]


def test_a_batch_is_claimed_once_and_each_outcome_recorded(local, alice_api, unique_path):
    good, bad, flaky = (
        local.url(unique_path("/slack")),
        local.url(unique_path("/bad")),
        local.url(unique_path("/flaky") + "/slack"),
    )
    ids = _bulk(
        alice_api,
        [
            {"channel": "slack", "recipient": url, "message": f"m{i}"}
            for i, url in enumerate([good, good, bad, flaky])
        ],
    )
    Delivery.objects.filter(pk=ids[1]).update(status="sending")  # another worker has it
    with CaptureQueriesContext(connection) as queries:
        counts = runner.deliver_many(ids)
    assert counts == {"not_claimed": 1, "sent": 1, "failed": 1, "retrying": 1}
    if connection.vendor == "postgresql":  # SQLite claims row by row (claim.claim_many)
        assert len(queries) == 2  # one claim, one outcome write, for the whole batch
    rows = {str(d.pk): d for d in Delivery.objects.filter(pk__in=ids)}
    assert [rows[i].status for i in ids] == ["sent", "sending", "failed", "retrying"]
    assert rows[ids[0]].provider_status == 200 and rows[ids[0]].attempts == 1
    assert rows[ids[2]].error_code == "http_400" and rows[ids[2]].failed_at is not None
    assert rows[ids[3]].next_attempt_at is not None and rows[ids[3]].error_code == "http_500"

    # The same message again (a redelivery): nothing is sent twice (the retrying one is due
    # again only as a new attempt: its own message brings it).
    sent_before = len(local.http_state.requests)
    assert runner.deliver_many(ids[:3]) == {"not_claimed": 3}
    assert len(local.http_state.requests) == sent_before


def test_the_bulk_api_makes_no_query_per_item(alice_api, workspace, local):
    # A webhook channel (the bench's case). Email to raw addresses still checks each address's
    # opt-out with a query of its own.
    made = alice_api.post(
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": "webhook", "name": "w",
         "config": {"url": local.url("/webhook/x")}},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201

    def queries_for(n: int) -> int:
        items = [{"channel": "webhook", "message": f"m{i}"} for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            _bulk(alice_api, items)
        return len(captured)

    assert queries_for(3) == queries_for(40)


@pytest.mark.integration
def test_a_bulk_goes_through_the_worker_in_batches(settings, local, celery_worker, alice_api):
    settings.NOTIFICATIONS_DELIVERY_BATCH = 4
    ids = _bulk(
        alice_api,
        [{"channel": "email", "recipient": f"b{i}@example.com", "message": "m"} for i in range(10)],
    )
    wait_until(
        lambda: Delivery.objects.filter(pk__in=ids, status="sent").count() == 10,
        timeout=30,
        message="ten deliveries sent in batches of four",
    )
    arrived = {m["to"][0] for m in local.mails}
    assert {f"b{i}@example.com" for i in range(10)} <= arrived
    assert Delivery.objects.filter(pk__in=ids, attempts=1).count() == 10


def test_the_delivery_tasks_retry_when_the_database_cannot_be_reached():
    # The bench met PostgreSQL out of connections: the claim failed and, without a retry, the
    # batch's rows waited for the sweep. A retry is safe: the claim is the guard.
    from django.db import OperationalError

    from notifications import tasks

    for task in (tasks.deliver, tasks.deliver_batch):
        assert OperationalError in task.autoretry_for and task.max_retries >= 5
