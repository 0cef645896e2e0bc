"""The /realtime/ page in headless Chromium (Debian's, driven by Playwright), against a real
ASGI server and the Redis channel layer."""

import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from config.testing import wait_until
from realtime import events, groups
from realtime.tests.conftest import token_for
from realtime.tests.servers import asgi_server, redis_channel_layers

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


def test_the_page_shows_a_published_event_live(browser, server, user, workspace):
    page = browser.new_page()
    page.goto(f"http://{server}/realtime/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"http://{server}/realtime/")
    page.wait_for_selector("#status.open")

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
