import pytest
from django.urls import reverse

from tasks.models import BackgroundTask, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)
    return client


def test_the_admin_lists_filters_and_shows_tasks_read_only(staff_client, workspace, user):
    task = BackgroundTask.objects.create(
        workspace=workspace,
        submitted_by=user,
        task_type="diagnostics.echo",
        timeout=5,
        status=Status.SUCCEEDED,
        result={"echo": {"secret_sauce": 1}},
    )
    changelist = reverse("admin:tasks_backgroundtask_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"status__exact": "succeeded"}).status_code == 200
    page = staff_client.get(reverse("admin:tasks_backgroundtask_change", args=[task.pk]))
    assert page.status_code == 200 and b"secret_sauce" in page.content
    assert b'name="status"' not in page.content  # read-only
    assert staff_client.get(reverse("admin:tasks_backgroundtask_add")).status_code == 403


def test_admin_actions_cancel_and_retry(staff_client, workspace, user):
    queued = BackgroundTask.objects.create(
        workspace=workspace, task_type="diagnostics.echo", timeout=5, status=Status.QUEUED
    )
    failed = BackgroundTask.objects.create(
        workspace=workspace, task_type="diagnostics.echo", timeout=5, status=Status.FAILED
    )
    changelist = reverse("admin:tasks_backgroundtask_changelist")
    response = staff_client.post(
        changelist, {"action": "cancel_tasks", "_selected_action": [queued.pk, failed.pk]}
    )
    assert response.status_code == 302
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED
    staff_client.post(changelist, {"action": "retry_tasks", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == Status.PENDING and failed.resubmissions == 1
