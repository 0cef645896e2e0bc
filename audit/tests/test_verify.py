"""`manage.py audit_verify` and retention: clean chains verify, tampering is named (and is a
critical event), and deleting old rows under a signed checkpoint keeps the chain verifiable."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from accounts.services import personal_workspace
from audit import chain, retention
from audit.events import SecurityEventKind as K
from audit.models import AuditLogEntry, ChainHead, SecurityEvent
from audit.services import record_security_event
from tasks.registry import get_task_type
from workflows.tests.factories import NOTES, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(user, workspace):
    workflow = make_workflow(user, workspace, NOTES)
    for i in range(3):
        record_security_event(K.MFA_FAILED, actor=user, workspace=workspace, details={"i": i})
    return workflow


def verify(*args):
    try:
        call_command("audit_verify", *args)
    except CommandError as exc:
        return exc
    return None


def test_an_untouched_database_verifies_clean(history, workspace, capsys):
    assert verify() is None
    assert "verified" in capsys.readouterr().out
    assert verify("--workspace", str(workspace.pk)) is None


def test_an_edited_change_row_fails_naming_it(history, workspace):
    row = AuditLogEntry.objects.filter(workspace_id=workspace.pk).order_by("seq")[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditlogentry SET object_repr = 'forged' WHERE id = %s", [row.pk]
        )
    error = verify("--workspace", str(workspace.pk))
    assert error is not None and error.returncode == 1
    assert f"audit log entry id={row.pk} seq={row.seq}: edited" in str(error)
    critical = SecurityEvent.objects.get(kind=K.AUDIT_VERIFY_FAILED)
    assert critical.severity == "critical" and critical.workspace_id == workspace.pk


def test_a_deleted_row_fails_naming_the_gap(history, workspace):
    rows = list(SecurityEvent.objects.filter(workspace_id=workspace.pk).order_by("seq"))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_securityevent WHERE id = %s", [rows[0].pk])
    error = verify()
    assert error is not None
    assert f"security event id={rows[1].pk}" in str(error) and "deleted" in str(error)


def test_retention_keeps_a_verifiable_chain(make_user, settings):
    with freeze_time(timezone.now() - timedelta(days=400)):  # a year and more ago
        user = make_user("olduser")
        workspace = personal_workspace(user)
        make_workflow(user, workspace, NOTES)
    name = chain.workspace_chain(workspace.pk)
    for i in range(3):
        record_security_event(K.MFA_FAILED, actor=user, workspace=workspace, details={"i": i})
    old = AuditLogEntry.objects.filter(chain=name).count()
    assert old >= 1 and chain.verify_chain(name) is None
    cutoff = timezone.now() - timedelta(days=365)
    everywhere = AuditLogEntry.objects.filter(timestamp__lt=cutoff).count()  # + olduser's chain

    settings.AUDIT_RETENTION_DAYS = 365
    assert retention.purge()["deleted"] == everywhere
    assert not AuditLogEntry.objects.filter(chain=name).exists()
    assert SecurityEvent.objects.filter(chain=name).count() == 3
    head = ChainHead.objects.get(chain=name)
    assert head.checkpoint_seq == old and head.checkpoint_signature
    assert chain.verify_chain(name) is None
    record_security_event(K.MFA_FAILED, actor=user, workspace=workspace)
    assert chain.verify_chain(name) is None
    # A forged checkpoint (to hide more deleted rows, say) does not verify.
    ChainHead.objects.filter(chain=name).update(checkpoint_seq=head.checkpoint_seq + 1)
    assert chain.verify_chain(name).reason == "bad_checkpoint"


def test_the_nightly_jobs_are_registered_task_types():
    assert get_task_type("audit.verify").schedule == {"crontab": "30 2 * * *"}
    assert get_task_type("audit.retention").schedule == {"crontab": "0 3 * * *"}
