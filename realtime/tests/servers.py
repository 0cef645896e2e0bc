"""Real ASGI servers for the end-to-end tests: uvicorn child processes on free ports, on the test
database, with the Redis channel layer; and a workflow to run live against them."""

import contextlib
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from django.conf import settings

from accounts.scoping import Actor
from config.testing import BASE_DIR, child_env, free_port, wait_until
from realtime.tests.conftest import token_for
from workflows import authoring

APP = "config.asgi:application"


def _alive(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{base}/health", timeout=1) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def asgi_server(*, log_path: Path, **env: str):
    """Yield (host:port, process) of a running uvicorn; stop it afterwards."""
    port = free_port()
    base = f"127.0.0.1:{port}"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own argv
            [
                sys.executable, "-m", "uvicorn", APP,
                "--host", "127.0.0.1", "--port", str(port),
                "--lifespan", "off", "--log-level", "warning",
            ],
            cwd=BASE_DIR,
            env=child_env(CHANNEL_LAYER="redis", **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(
            lambda: process.poll() is not None or _alive(base),
            timeout=60,
            message=f"uvicorn on {base}",
        )
        assert process.poll() is None, log_path.read_text()
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def redis_channel_layers() -> dict:
    return settings.REDIS_CHANNEL_LAYERS


# Offline steps (the test settings have no provider key), so a run needs nothing from outside.
LIVE_WORKFLOW = {
    "name": "Live",
    "inputs": [{"name": "topic", "type": "string"}],
    "steps": [
        {"key": "draft", "kind": "generate", "prompt": "Write about {{ inputs.topic }}"},
        {"key": "tidy", "kind": "transform", "prompt": "# Tidy\n{{ steps.draft.output }}"},
        {"key": "pitch", "kind": "generate", "prompt": "Pitch: {{ steps.tidy.output }}"},
    ],
}
LIVE_STEPS = {"draft", "tidy", "pitch"}


def live_workflow(user, workspace):
    return authoring.create_workflow(
        actor=Actor(user), workspace=workspace, definition=LIVE_WORKFLOW
    )


def start_run_over_http(base: str, user, workflow_id: int, inputs: dict) -> dict:
    """POST /api/v3/workflows/{id}/runs/ on the live server, with a JWT; the run's body."""
    request = urllib.request.Request(  # noqa: S310 - our own local server
        f"http://{base}/api/v3/workflows/{workflow_id}/runs/",
        data=json.dumps({"inputs": inputs}).encode(),
        headers={
            "Authorization": f"Bearer {token_for(user)}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201
        return json.loads(response.read())
