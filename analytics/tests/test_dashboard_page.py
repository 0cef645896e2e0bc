"""/dashboard/ without a browser: login, scoping, and a page the strict CSP allows."""

import re

import pytest

from analytics.tests.factories import make_run, make_workflow

pytestmark = pytest.mark.django_db


def test_the_dashboard_needs_a_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response.url.startswith("/api-auth/login/")


def test_the_dashboard_of_my_workspace_under_a_strict_csp(client, user, workspace):
    make_run(make_workflow(workspace), tokens=(5, 7))
    client.force_login(user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "style-src 'self'" in policy
    # No inline script or style: every <script> loads a file (or is inert JSON data).
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "cdn" not in html.lower()
    assert '"total": 1' in html  # the figures travel as json_script data


def test_another_workspace_is_not_found(client, user, other_workspace):
    client.force_login(user)
    assert client.get(f"/dashboard/?workspace={other_workspace.pk}").status_code == 404


def test_chartjs_is_vendored_from_the_npm_package():
    from django.contrib.staticfiles import finders

    path = finders.find("vendor/chartjs/chart.umd.min.js")
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        head = handle.read(200)
    assert "Chart.js v4.6.1" in head
