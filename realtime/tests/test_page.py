"""The /realtime/ page in headless Chromium (Debian's, driven by Playwright), against a real
ASGI server and the Redis channel layer."""

import json
import shutil
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from config.testing import start_worker_process, wait_until
from realtime import events, groups
from realtime.tests.conftest import token_for
from realtime.tests.servers import (
    LIVE_STEPS,
    asgi_server,
    live_workflow,
    redis_channel_layers,
    start_run_over_http,
)

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


@pytest.fixture
def browser(monkeypatch):
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    # Playwright's sync API runs an event loop in this thread, which makes Django refuse the
    # ORM here; nothing else runs on this thread, so that check is moot (Playwright's advice).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path, settings):
    settings.CHANNEL_LAYERS = redis_channel_layers()  # this process publishes through Redis
    with asgi_server(log_path=tmp_path / "web.log") as (base, _):
        yield base


def publish(event_type: str, data: dict, workspace) -> None:
    """realtime.events.publish, from a thread of its own: Playwright's loop owns this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        sent = pool.submit(
            events.publish, event_type, data, groups=[groups.workspace_group(workspace.pk)]
        ).result()
    assert sent is not None


def test_the_page_needs_a_login(client: Client):
    response = client.get("/realtime/")
    assert response.status_code == 302
    assert response.url.startswith("/api-auth/login/")


def logged_in_page(browser, server):
    """The /realtime/ page, logged in as alice, its socket open."""
    page = browser.new_page()
    page.goto(f"http://{server}/realtime/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"http://{server}/realtime/")
    page.wait_for_selector("#status.open")
    return page


def test_the_page_shows_a_published_event_live(browser, server, user, workspace):
    page = logged_in_page(browser, server)

    page.select_option("#topic", "workspace")
    page.fill("#object-id", str(workspace.pk))
    page.click("#join")
    page.wait_for_selector('#events li[data-type="workspace.snapshot"]')
    assert "alice" in page.text_content("#snapshot")

    publish("step.running", {"run_id": 41, "step_key": "outline", "status": "running"}, workspace)
    step = '[data-run-id="41"] [data-step-key="outline"]'
    page.wait_for_selector(f"{step}.status-running")
    publish("step.succeeded", {"run_id": 41, "step_key": "outline"}, workspace)
    publish("run.succeeded", {"run_id": 41}, workspace)
    page.wait_for_selector(f"{step}.status-succeeded")
    page.wait_for_selector('[data-run-id="41"] .run-status.status-succeeded')
    assert page.locator('#events li[data-type="step.succeeded"]').count() == 1
    assert page.text_content("#errors") == ""


def test_the_briefs_javascript_example_works_with_a_token(browser, server, user):
    page = browser.new_page()
    page.goto(f"http://{server}/health")  # any page: the socket is authenticated by the token
    url = f"ws://{server}/api/v3/ws/ws?connection_id=test123&user_id=1&token={token_for(user)}"
    page.evaluate(
        """url => {
            window.received = [];
            const ws = new WebSocket(url);
            ws.onmessage = function (event) { window.received.push(JSON.parse(event.data)); };
            ws.onopen = function () {
                ws.send(JSON.stringify({type: 'ping'}));
                ws.send(JSON.stringify({type: 'join_workflow', workflow_id: 1}));
            };
        }""",
        url,
    )
    received = wait_until(
        lambda: (r := page.evaluate("window.received")) and len(r) >= 3 and r,
        message="three events in the browser",
    )
    assert [event["type"] for event in received[:2]] == ["connection.ready", "pong"]
    assert received[0]["data"]["user_id"] == user.pk
    # join_workflow answers with a snapshot once the workflows app registers its topic; until
    # then it is an error event, and the connection stays open.
    assert received[2]["type"] in ("workflow.snapshot", "error"), json.dumps(received[2])


def test_a_run_started_over_the_api_turns_its_steps_green_on_the_page(
    browser, server, user, workspace, tmp_path
):
    workflow = live_workflow(user, workspace)
    worker = start_worker_process(log_path=tmp_path / "worker.log", CHANNEL_LAYER="redis")
    try:
        page = logged_in_page(browser, server)
        # Pick the workflow the page lists (from the workflows API, with the session).
        page.wait_for_selector(f'#workflow-options option[value="{workflow.pk}"]', state="attached")
        page.select_option("#topic", "workflow")
        page.fill("#object-id", str(workflow.pk))
        page.click("#join")
        page.wait_for_selector('#events li[data-type="workflow.snapshot"]', state="attached")
        assert page.locator("#runs [data-run-id]").count() == 0  # no run yet

        # The page hears of this run for the first time from its events.
        run = start_run_over_http(server, user, workflow.pk, {"topic": uuid.uuid4().hex})
        run_el = f'#runs [data-run-id="{run["id"]}"]'
        page.wait_for_selector(f"{run_el} .run-status.status-succeeded", timeout=60_000)
        for key in sorted(LIVE_STEPS):
            page.wait_for_selector(f'{run_el} [data-step-key="{key}"].status-succeeded')
        assert page.locator(f"{run_el} [data-step-key]").count() == len(LIVE_STEPS)
        assert page.text_content("#errors") == ""
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
