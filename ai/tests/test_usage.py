from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from ai import selectors, services
from ai.models import UsageRecord
from config.testing import assert_error

pytestmark = pytest.mark.django_db

USAGE = "/api/v3/ai/usage/"
SUMMARY = "/api/v3/ai/usage/summary"


def _row(workspace, **fields):
    values = {
        "model": "offline/writer",
        "provider": "offline",
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        **fields,
    }
    return UsageRecord.objects.create(workspace=workspace, **values)


def test_other_workspaces_usage_is_not_visible(alice_api, workspace, other_workspace):
    mine = _row(workspace)
    theirs = _row(other_workspace)

    listed = alice_api.get(USAGE).json()
    assert [r["id"] for r in listed["results"]] == [mine.pk]
    assert alice_api.get(f"{USAGE}{mine.pk}/").status_code == 200
    assert_error(alice_api.get(f"{USAGE}{theirs.pk}/"), 404)
    summary = alice_api.get(SUMMARY).json()
    assert summary["totals"]["calls"] == 1
    assert alice_api.get(f"{USAGE}?workspace={other_workspace.pk}").json()["count"] == 0


def test_members_see_the_workspace_usage(client_for, make_user, workspace, add_member):
    _row(workspace)
    viewer = make_user("victor")
    add_member(workspace, viewer, Role.VIEWER)
    assert client_for(viewer).get(USAGE).json()["count"] == 1


def test_usage_is_read_only(alice_api, workspace):
    row = _row(workspace)
    assert alice_api.post(USAGE, {"model": "x"}, format="json").status_code == 405
    assert alice_api.delete(f"{USAGE}{row.pk}/").status_code == 405


def test_usage_filters(alice_api, workspace):
    now = timezone.now()
    _row(workspace, model="local/tiny", provider="local", created_at=now - timedelta(days=3))
    _row(workspace, cached=True)
    _row(workspace, outcome="error", error_code="provider_timeout", total_tokens=0)

    def count(query):
        response = alice_api.get(f"{USAGE}?{query}")
        assert response.status_code == 200, response.content
        return response.json()["count"]

    assert count("model=local/tiny") == 1
    assert count("provider=offline") == 2
    assert count("cached=true") == 1
    assert count("cached=false") == 2
    assert count("outcome=error") == 1
    assert count("error_code=provider_timeout") == 1
    since = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert count(f"since={since}") == 2
    assert count(f"until={since}") == 1
    assert count(f"date_from={(now - timedelta(days=3)).date()}") == 3
    assert count(f"date_to={(now - timedelta(days=2)).date()}") == 1
    assert_error(alice_api.get(f"{USAGE}?outcome=maybe"), 400, "validation_error")
    assert_error(alice_api.get(f"{USAGE}?date_from=yesterday"), 400, "validation_error")


def test_usage_list_is_paginated(alice_api, workspace):
    for _ in range(3):
        _row(workspace)
    body = alice_api.get(f"{USAGE}?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]


def test_summary_totals_by_model_and_by_day(alice_api, workspace):
    now = timezone.now()
    _row(workspace, created_at=now - timedelta(days=1))
    _row(workspace, cached=True)
    _row(
        workspace,
        model="openai/gpt-4o-mini",
        provider="openai",
        prompt_tokens=100,
        completion_tokens=50,
        total_tokens=150,
        cost="0.00012500",
    )
    _row(workspace, outcome="error", error_code="provider_timeout", total_tokens=0)

    body = alice_api.get(SUMMARY).json()

    assert body["totals"]["calls"] == 4
    assert body["totals"]["cached_calls"] == 1
    assert body["totals"]["failed_calls"] == 1
    assert body["totals"]["total_tokens"] == 30 + 30 + 150 + 0
    assert body["totals"]["cost"] == pytest.approx(0.000125)
    models = {m["model"]: m for m in body["by_model"]}
    assert models["offline/writer"]["calls"] == 3
    assert models["openai/gpt-4o-mini"]["prompt_tokens"] == 100
    days = {d["day"]: d["calls"] for d in body["by_day"]}
    assert days == {str((now - timedelta(days=1)).date()): 1, str(now.date()): 3}
    filtered = alice_api.get(f"{SUMMARY}?provider=openai").json()
    assert filtered["totals"]["calls"] == 1
    assert alice_api.get(SUMMARY + "/").status_code == 200


def test_usage_totals_selector(workspace, other_workspace):
    services.complete(workspace=workspace, prompt="Write about owls.")
    services.complete(workspace=workspace, prompt="Write about owls.")  # cache hit
    services.complete(workspace=other_workspace, prompt="Write about owls.")
    _row(workspace, created_at=timezone.now() - timedelta(days=10), total_tokens=1000)

    recent = selectors.usage_totals(
        workspace_id=workspace.pk, since=timezone.now() - timedelta(days=1)
    )
    rows = UsageRecord.objects.filter(
        workspace=workspace, created_at__gte=timezone.now() - timedelta(days=1)
    )
    assert recent["calls"] == 2
    assert recent["tokens"] == sum(r.total_tokens for r in rows)
    assert recent["cost"] == 0.0
    assert selectors.usage_totals(workspace_id=workspace.pk, since=None)["calls"] == 3


def test_admin_shows_usage_read_only(client, django_user_model, workspace):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    row = _row(workspace)
    client.force_login(admin)
    assert client.get("/admin/ai/usagerecord/").status_code == 200
    assert client.get(f"/admin/ai/usagerecord/{row.pk}/change/").status_code == 200
    assert client.get("/admin/ai/usagerecord/add/").status_code == 403
    assert (
        client.post(f"/admin/ai/usagerecord/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert UsageRecord.objects.filter(pk=row.pk).exists()
