"""The hash chains: linked rows verify; an edited, deleted or reordered row is named."""

import threading
from contextlib import nullcontext

import pytest
from django.db import connection, connections

from audit import chain
from audit.events import SecurityEventKind as K
from audit.models import AuditLogEntry, ChainHead, SecurityEvent
from audit.services import record_security_event

pytestmark = pytest.mark.django_db


def events(user, workspace, n=5):
    for i in range(n):
        record_security_event(K.MFA_FAILED, actor=user, workspace=workspace, details={"i": i})
    rows = SecurityEvent.objects.filter(chain=chain.workspace_chain(workspace.pk))
    return list(rows.order_by("seq"))


def test_rows_link_to_the_previous_row_of_their_chain(user, workspace, other_user):
    rows = events(user, workspace, 3)
    record_security_event(K.PASSWORD_CHANGED, actor=other_user)  # another chain
    first = rows[0].seq  # after the workspace's own change rows (created, owner added)
    assert first > 1 and [r.seq for r in rows] == [first, first + 1, first + 2]
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash
    assert rows[2].hash == chain.row_hash(rows[1].hash, rows[2].canonical())
    head = ChainHead.objects.get(chain=chain.workspace_chain(workspace.pk))
    assert (head.seq, head.hash) == (rows[2].seq, rows[2].hash)
    genesis = AuditLogEntry.objects.get(chain=chain.workspace_chain(workspace.pk), seq=1)
    assert genesis.prev_hash == chain.GENESIS
    other = SecurityEvent.objects.get(chain=chain.user_chain(other_user.pk))
    assert other.prev_hash != chain.GENESIS  # the user's chain began with their registration
    assert chain.verify()[1] == []


def test_an_edited_row_is_named(user, workspace):
    rows = events(user, workspace)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_securityevent SET severity = 'info' WHERE id = %s", [rows[2].pk]
        )
    checked, problems = chain.verify(workspace_id=workspace.pk)
    assert checked == 1 and len(problems) == 1
    problem = problems[0]
    assert (problem.row_id, problem.seq, problem.reason) == (rows[2].pk, rows[2].seq, "edited")
    assert f"id={rows[2].pk}" in problem.describe()


def test_a_deleted_row_is_named(user, workspace):
    rows = events(user, workspace)
    SecurityEvent.objects.filter(pk=rows[1].pk).delete()
    problem = chain.verify_chain(chain.workspace_chain(workspace.pk))
    assert problem.row_id == rows[2].pk
    assert problem.reason.startswith(f"deleted (seq {rows[1].seq} missing")


def test_deleting_the_newest_row_shows_at_the_head(user, workspace):
    rows = events(user, workspace)
    SecurityEvent.objects.filter(pk=rows[-1].pk).delete()
    problem = chain.verify_chain(chain.workspace_chain(workspace.pk))
    assert problem.table == "head" and problem.reason.startswith("deleted")


def test_reordered_rows_are_named(user, workspace):
    rows = events(user, workspace)
    # Swap the places of two rows (their seq), as if they had been written the other way.
    a, b = rows[1], rows[2]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_securityevent SET seq = -1 WHERE id = %s", [a.pk])
        cursor.execute("UPDATE audit_securityevent SET seq = %s WHERE id = %s", [a.seq, b.pk])
        cursor.execute("UPDATE audit_securityevent SET seq = %s WHERE id = %s", [b.seq, a.pk])
    problem = chain.verify_chain(chain.workspace_chain(workspace.pk))
    assert problem.row_id == b.pk and problem.seq == a.seq


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_a_chain(make_user):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers itself")
    from accounts.services import personal_workspace

    user = make_user("writer")
    workspace = personal_workspace(user)
    errors = []

    def write():
        try:
            for i in range(15):
                record_security_event(
                    K.MFA_FAILED, actor=user, workspace=workspace, details={"i": i}
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seqs = list(
        SecurityEvent.objects.filter(chain=chain.workspace_chain(workspace.pk))
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert len(seqs) == 45 and seqs == list(range(seqs[0], seqs[0] + 45))
    assert chain.verify(workspace_id=workspace.pk)[1] == []


@pytest.mark.django_db(transaction=True)
def test_writers_of_both_kinds_in_and_out_of_transactions_do_not_fork_a_chain(make_user):
    """Security events and change rows share a workspace's chain: one-statement appends (in
    autocommit and inside a caller's transaction) and the locked first link all serialize."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers itself")
    from django.db import transaction

    from accounts.services import personal_workspace
    from audit.services import record_change

    user = make_user("mixed")
    workspace = personal_workspace(user)
    name = chain.workspace_chain(workspace.pk)
    AuditLogEntry.objects.filter(chain=name).delete()
    ChainHead.objects.filter(chain=name).delete()  # so the first links race too
    barrier = threading.Barrier(4)
    errors = []

    def events():
        barrier.wait()
        for i in range(12):
            record_security_event(K.MFA_FAILED, actor=user, workspace=workspace, details={"i": i})

    def changes(in_transaction: bool):
        barrier.wait()
        for i in range(12):
            with transaction.atomic() if in_transaction else nullcontext():
                record_change(
                    model="accounts.Workspace",
                    object_id=workspace.pk,
                    event="test.touched",
                    workspace=workspace,
                    actor=user,
                    details={"i": i},
                )

    def run(target, *args):
        try:
            target(*args)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    targets = [(events,), (events,), (changes, True), (changes, False)]
    threads = [threading.Thread(target=run, args=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seqs = sorted(
        [*SecurityEvent.objects.filter(chain=name).values_list("seq", flat=True)]
        + [*AuditLogEntry.objects.filter(chain=name).values_list("seq", flat=True)]
    )
    assert seqs == list(range(1, 49))
    assert ChainHead.objects.get(chain=name).seq == 48
    assert chain.verify(workspace_id=workspace.pk)[1] == []


def test_many_change_rows_are_linked_in_one_go_like_single_ones(user, workspace, other_user):
    from audit.context import acting_for
    from audit.services import Change, record_change, record_changes

    items = [
        Change(object_id=f"t{i}", workspace=workspace, object_repr=f"task {i}", details={"i": i})
        for i in range(4)
    ]
    items.append(Change(object_id="elsewhere", object_repr="no workspace"))  # the user's chain
    with acting_for(other_user):
        single = record_change(
            model="accounts.Workspace", object_id="t-1", event="x.did", workspace=workspace
        )
        rows = record_changes(model="accounts.Workspace", event="x.did", items=items)
    assert len(rows) == 5 and all(row.pk for row in rows)
    stored = {
        row.object_pk: row for row in AuditLogEntry.objects.filter(pk__in=[r.pk for r in rows])
    }
    assert [stored[f"t{i}"].additional_data for i in range(4)] == [
        {"event": "x.did", "i": i} for i in range(4)
    ]
    in_workspace = [stored[f"t{i}"] for i in range(4)]
    assert [r.seq for r in in_workspace] == list(range(single.seq + 1, single.seq + 5))
    assert in_workspace[0].prev_hash == single.hash
    assert all(r.actor_id == other_user.pk for r in stored.values())
    assert stored["elsewhere"].chain == chain.user_chain(other_user.pk)
    head = ChainHead.objects.get(chain=chain.workspace_chain(workspace.pk))
    assert (head.seq, head.hash) == (in_workspace[-1].seq, in_workspace[-1].hash)
    # Same fields as a single row: only the object and its place differ.
    fields = ("content_type_id", "action", "actor_email", "remote_addr", "workspace_id", "chain")
    assert [getattr(single, f) for f in fields] == [getattr(in_workspace[0], f) for f in fields]
    assert chain.verify()[1] == []
