"""GET /api/v3/advanced/analytics/users: per member, runs started and approvals (and edits
and logins from the audit app once it is installed)."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import Role
from analytics.tests.factories import make_run, make_workflow
from workflows.models import StepRun

pytestmark = pytest.mark.django_db
URL = "/api/v3/advanced/analytics/users"


def test_runs_started_and_approvals_per_member(
    alice_api, client_for, user, workspace, other_user, add_member
):
    add_member(workspace, other_user, Role.EDITOR)
    flow = make_workflow(workspace)
    make_run(flow, user=user)
    make_run(flow, user=user)
    run = make_run(flow, user=other_user, steps=[{"key": "review", "kind": "approval"}])
    StepRun.objects.filter(run=run).update(decided_by=user, finished_at=timezone.now())
    make_run(flow, user=other_user, ago=timedelta(days=3))  # outside the day

    response = alice_api.get(URL, {"workspace": workspace.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {u["username"]: u for u in body["users"]}
    assert (rows["alice"]["runs_started"], rows["alice"]["approvals"]) == (2, 1)
    assert (rows["mallory"]["runs_started"], rows["mallory"]["approvals"]) == (1, 0)
    if not apps.is_installed("audit"):
        assert body["sources"]["logins"] is None and rows["alice"]["logins"] is None
    assert client_for(other_user).get(URL, {"time_range": "week"}).json()["users"]


def test_another_workspace_is_404(alice_api, other_workspace):
    response = alice_api.get(URL, {"workspace": other_workspace.pk})
    assert response.status_code == 404


def test_logins_come_from_the_audit_rows(api, alice_api, client_for, user, workspace, other_user,
                                         add_member):  # fmt: skip
    from conftest import STRONG_PASSWORD

    for _ in range(2):
        response = api.post(
            "/api/v3/auth/login", {"username": "alice", "password": STRONG_PASSWORD}
        )
        assert response.status_code == 200, response.content
    body = alice_api.get(URL, {"workspace": workspace.pk}).json()
    assert body["sources"]["logins"] == "audit" and body["sources"]["edits"] == "audit"
    [alice] = [u for u in body["users"] if u["username"] == "alice"]
    assert alice["logins"] == 2
    assert alice["edits"] == 0
    # A viewer sees her own logins, not the owner's.
    add_member(workspace, other_user, Role.VIEWER)
    rows = {u["username"]: u for u in client_for(other_user).get(URL).json()["users"]}
    assert rows["alice"]["logins"] is None and rows["mallory"]["logins"] == 0
