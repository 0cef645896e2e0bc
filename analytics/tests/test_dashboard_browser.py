"""The dashboard in headless Chromium (Debian's, driven by Playwright) against one real ASGI
server and one Celery worker process for the module, with the Redis channel layer and
prometheus-client's multiprocess mode: the charts draw, a run started over the API appears
live (run.* events and the throttled analytics.updated push), no CSP violation, and /metrics
on the web process shows the step durations the worker observed.

DASHBOARD_SCREENSHOT=path saves a screenshot (the README's, docs/dashboard.png)."""

import json
import os
import shutil
import signal
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from prometheus_client.parser import text_string_to_metric_families

from analytics.tests.factories import make_run, make_workflow
from config.testing import start_worker_process
from realtime.tests.servers import asgi_server, live_workflow, start_run_over_http

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Correct-Horse-42-battery"


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """One web server and one worker for the module, sharing a metrics directory."""
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("dashboard")
    metrics_dir = tmp / "prometheus"
    metrics_dir.mkdir()
    env = {
        "ANALYTICS_LIVE_PUSH": "true",
        "ANALYTICS_PUSH_SECONDS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with django_db_blocker.unblock():
        worker = start_worker_process(log_path=tmp / "worker.log", CHANNEL_LAYER="redis", **env)
        try:
            # A small pool: the shared PostgreSQL of a CI machine has few connections to spare.
            with asgi_server(log_path=tmp / "web.log", DATABASE_POOL_MAX_SIZE="4", **env) as (
                base,
                _,
            ):
                yield base
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)


@pytest.fixture
def browser(monkeypatch, stack):
    # Playwright's sync API runs an event loop in this thread; the ORM check is moot here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def canvas_pixels(page, selector: str) -> int:
    """Pixels of the canvas that are not transparent."""
    return page.evaluate(
        """selector => {
            const canvas = document.querySelector(selector);
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) painted++;
            return painted;
        }""",
        selector,
    )


def test_the_dashboard_draws_and_follows_a_run_live(browser, stack, user, workspace):
    base = stack
    history = make_workflow(workspace, "History")
    for hours, status in ((5, "succeeded"), (3, "failed"), (2, "succeeded"), (1, "succeeded")):
        step = {"key": "draft", "model": "offline/writer", "latency_ms": 800.0}
        make_run(
            history, status=status, ago=timedelta(hours=hours), tokens=(300, 200), cost="0.02",
            user=user, steps=[step],
        )  # fmt: skip
    workflow = live_workflow(user, workspace)

    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    violations = []
    # Only the dashboard's own (DRF's log-in page, a library's, has inline styles).
    page.on(
        "console",
        lambda m: (
            "Content Security Policy" in m.text
            and urlparse(page.url).path.startswith("/dashboard/")
            and violations.append((page.url, m.text))
        ),
    )
    page.goto(f"http://{base}/dashboard/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"http://{base}/dashboard/")
    page.wait_for_selector("#status.open")
    page.wait_for_selector('#status[data-joined="true"]', state="attached")

    assert page.text_content("#card-runs") == "4"
    for canvas in ("#chart-runs", "#chart-success", "#chart-cost"):
        assert canvas_pixels(page, canvas) > 500, canvas
    assert page.locator("#insights li").count() >= 1

    run = start_run_over_http(base, user, workflow.pk, {"topic": uuid.uuid4().hex})
    page.wait_for_selector(f'#feed [data-run-id="{run["id"]}"]', timeout=60_000)
    page.wait_for_selector(f'#feed [data-run-id="{run["id"]}"].status-succeeded', timeout=60_000)
    # The worker's throttled push arrives, and the page re-reads its figures.
    page.wait_for_selector("#live-hour[data-updates]", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelector('#card-runs').textContent === '5'", timeout=30_000
    )
    assert page.text_content("#errors") == ""
    assert violations == []
    if os.environ.get("DASHBOARD_SCREENSHOT"):
        page.screenshot(path=os.environ["DASHBOARD_SCREENSHOT"], full_page=True)

    # /metrics on the web process adds up what the worker process counted.
    with urllib.request.urlopen(f"http://{base}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    counted = sum(
        s.value
        for s in families["docchain_step_duration_seconds"].samples
        if s.name.endswith("_count")
    )
    assert counted >= 3  # the live run's three steps, observed in the worker
    finished = families["docchain_runs_finished"].samples
    assert any(s.labels.get("status") == "succeeded" and s.value >= 1 for s in finished)
    assert families["docchain_workers_alive"].samples[0].value >= 1

    # Health names the worker from its heartbeat in Redis (no broadcast ping to wait out).
    with urllib.request.urlopen(f"http://{base}/api/v3/health", timeout=10) as response:  # noqa: S310
        workers = json.loads(response.read())["checks"]["workers"]
    assert workers["status"] == "ok" and workers["workers"], workers
