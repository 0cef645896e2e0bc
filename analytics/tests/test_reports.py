"""Reports: made on demand over the API or weekly by the beat job, fetched as JSON and CSV,
announced by `analytics.signals.report_ready` after commit."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from analytics import services
from analytics.models import Report
from analytics.signals import report_ready
from analytics.tests.factories import make_run, make_workflow

pytestmark = pytest.mark.django_db
URL = "/api/v3/advanced/analytics/reports"


@pytest.fixture
def heard():
    reports = []

    def receiver(sender, report, **kwargs):
        reports.append(report.pk)

    report_ready.connect(receiver, dispatch_uid="test-heard")
    yield reports
    report_ready.disconnect(dispatch_uid="test-heard")


def test_a_report_on_demand_as_json_and_csv(
    alice_api, user, workspace, heard, django_capture_on_commit_callbacks
):
    flow = make_workflow(workspace, "Weekly brief")
    make_run(flow, tokens=(10, 20), cost="0.5", ago=timedelta(days=2))
    make_run(flow, status="failed", ago=timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(URL, {"workspace": workspace.pk})
    assert response.status_code == 201, response.content
    report = response.json()
    assert report["kind"] == "on_demand" and report["workspace"] == workspace.pk
    assert report["summary"]["runs"]["total"] == 2
    assert report["summary"]["tokens"]["total"] == 30
    assert heard == [report["id"]]

    listed = alice_api.get(URL).json()
    assert [r["id"] for r in listed["results"]] == [report["id"]]
    assert "summary" not in listed["results"][0]
    assert alice_api.get(f"{URL}/{report['id']}/").json()["summary"] == report["summary"]

    response = alice_api.get(f"{URL}/{report['id']}/csv/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "name", "value"]
    values = {(section, name): value for section, name, value in rows[1:]}
    assert values[("summary", "runs.total")] == "2"
    assert values[("summary", "runs.by_status.failed")] == "1"
    assert values[("summary", "by_workflow[0].name")] == "Weekly brief"


def test_reports_are_scoped_and_need_an_editor(
    alice_api, client_for, workspace, other_user, other_workspace, add_member
):
    theirs = services._save_report(
        workspace_id=other_workspace.pk,
        kind="on_demand",
        since=timezone.now() - timedelta(days=1),
        until=timezone.now(),
    )
    assert alice_api.get(f"{URL}/{theirs.pk}/").status_code == 404
    assert alice_api.get(f"{URL}/{theirs.pk}/csv/").status_code == 404
    assert alice_api.get(URL).json()["results"] == []
    refused = alice_api.post(URL, {"workspace": other_workspace.pk})
    assert refused.status_code == 400  # not one of hers: "does not exist"
    add_member(workspace, other_user, Role.VIEWER)
    viewer = client_for(other_user).post(URL, {"workspace": workspace.pk})
    assert viewer.status_code == 403
    bad = alice_api.post(URL, {"workspace": workspace.pk, "time_range": "year"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    inverted = alice_api.post(
        URL, {"workspace": workspace.pk, "since": "2026-02-01T00:00:00Z",
              "until": "2026-01-01T00:00:00Z"},
    )  # fmt: skip
    assert inverted.status_code == 400 and inverted.json()["error"]["code"] == "invalid_query"


def test_the_weekly_job_makes_one_report_per_active_workspace_and_week(
    workspace, other_workspace, heard, django_capture_on_commit_callbacks
):
    now = timezone.now()
    since, until = services.last_week(now)
    make_run(make_workflow(workspace), ago=now - (since + timedelta(hours=3)), cost="0.25")
    make_run(make_workflow(other_workspace), ago=timedelta(days=30))  # not last week
    with django_capture_on_commit_callbacks(execute=True):
        ids = services.weekly_reports(now=now)
    [report] = Report.objects.filter(pk__in=ids)
    assert (report.workspace_id, report.kind) == (workspace.pk, "weekly")
    assert (report.period_start, report.period_end) == (since, until)
    assert report.summary["runs"]["total"] == 1
    assert heard == ids
    assert services.weekly_reports(now=now) == ids  # a second run of the job: the same report
    assert Report.objects.count() == 1


def test_the_weekly_job_is_on_the_default_beat_schedule():
    from django_celery_beat.models import PeriodicTask

    entry = PeriodicTask.objects.get(name="analytics.weekly_reports (default schedule)")
    assert entry.crontab.day_of_week == "1" and entry.crontab.hour == "6"
