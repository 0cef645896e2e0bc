"""A bulk submit as one batch: N records, N audit rows and N messages in a fixed number of
statements and broker round trips, events in one handover, all after commit or not at all."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from audit import chain
from audit.models import AuditLogEntry
from config.celery_app import app
from realtime import groups
from tasks import control, services
from tasks.models import BackgroundTask, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_broker(no_worker):
    """No worker consuming, nothing queued: what is sent stays in the queues to be counted."""
    app.control.purge()
    yield
    app.control.purge()


def items(n: int, **extra) -> list[dict]:
    return [{"task_type": "diagnostics.echo", "payload": {"i": i}, **extra} for i in range(n)]


def audit_rows():
    return AuditLogEntry.objects.filter(additional_data__event="task.submitted")


def listen(group):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)

    def received() -> list[dict]:
        events = []
        while (queue := layer.channels.get(channel)) and not queue.empty():
            events += async_to_sync(layer.receive)(channel)["events"]
        return events

    return received


def test_n_tasks_are_n_records_audit_rows_messages_and_events(
    user, workspace, empty_broker, django_capture_on_commit_callbacks
):
    received = listen(groups.user_group(user.pk))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tasks = services.bulk_submit_tasks(actor=user, items=items(25))
    assert len(callbacks) == 1  # one dispatch for the lot, after commit
    assert BackgroundTask.objects.count() == 25
    assert set(BackgroundTask.objects.values_list("status", flat=True)) == {Status.QUEUED}
    rows = audit_rows()
    assert sorted(rows.values_list("object_pk", flat=True)) == sorted(str(t.pk) for t in tasks)
    assert {r.actor_id for r in rows} == {user.pk}
    assert chain.verify(workspace_id=workspace.pk)[1] == []
    assert control.queue_depths()["default"] == 25
    events = received()
    assert [e["type"] for e in events] == ["task.queued"] * 25
    assert [e["data"]["id"] for e in events] == [str(t.pk) for t in tasks]


def test_the_statements_of_a_bulk_submit_do_not_grow_with_its_size(user, workspace, empty_broker):
    def statements(n: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            services.bulk_submit_tasks(actor=user, items=items(n))
        return len(queries)

    statements(2)  # first use: content types cached, chain head created
    # 30: within one SQLite insert (it caps a statement at 999 parameters; PostgreSQL does not).
    assert statements(3) == statements(30)


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_failure_mid_batch_leaves_nothing_behind(
    user, workspace, empty_broker, django_capture_on_commit_callbacks
):
    # The database refuses the audit row of the fourth task (a trigger, so the real bulk
    # insert fails part way): no record, no audit row, no message, no event.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.object_repr = 'boom' THEN RAISE EXCEPTION 'refused'; END IF;"
            " RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON audit_auditlogentry"
            " FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
        )
    batch = items(3) + [{"task_type": "diagnostics.echo", "name": "boom"}] + items(3)
    received = listen(groups.user_group(user.pk))
    before = audit_rows().count()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(DatabaseError),
    ):
        services.bulk_submit_tasks(actor=user, items=batch)
    assert callbacks == []
    assert not BackgroundTask.objects.exists()
    assert audit_rows().count() == before
    assert chain.verify(workspace_id=workspace.pk)[1] == []
    assert control.queue_depths()["default"] == 0
    assert received() == []
