"""One of everything, made through the services as a user would make them, so fuzzing and
permission tests point at real objects rather than only at ids that do not exist."""

import base64
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accounts import services as accounts
from accounts.models import Role
from accounts.scoping import Actor
from ai import services as ai
from tasks import services as tasks
from workflows import services as workflow_services
from workflows.engine.runs import start_run
from workflows.models import Document, Run

PASSWORD = "Correct-Horse-42-battery"

CHAIN = {
    "name": "World chain",
    "inputs": [{"name": "topic", "type": "string", "default": "tests"}],
    "steps": [
        {"key": "brief", "kind": "transform", "prompt": "# Brief\nAbout {{ inputs.topic }}."},
        {"key": "draft", "kind": "generate", "prompt": "Expand: {{ steps.brief.output }}"},
        {"key": "scores", "kind": "analyze", "depends_on": ["draft"]},
    ],
}
APPROVAL = {
    "name": "World approval",
    "steps": [
        {"key": "draft", "kind": "transform", "prompt": "# Draft\nText."},
        {"key": "review", "kind": "approval"},
        {"key": "final", "kind": "transform", "prompt": "Final: {{ steps.review.output }}"},
    ],
}


@dataclass
class World:
    owner: object
    workspace: object
    shared: object  # a second workspace the owner created, with members of every role
    members: dict = field(default_factory=dict)  # role -> user in `shared`
    ids: dict = field(default_factory=dict)  # what the objects are, by kind
    api_keys: dict = field(default_factory=dict)  # "read"/"write" -> secret (in `shared`)


def _run_inline(action):
    from workflows.engine.inline import InlineDispatcher

    dispatcher = InlineDispatcher()
    result = action(dispatcher)
    dispatcher.drain()
    return result


def build_world(prefix: str = "w") -> World:
    """Needs committed transactions (transactional_db): runs execute inline on commit."""
    owner = accounts.register_user(
        username=f"{prefix}-owner", password=PASSWORD, email=f"{prefix}-owner@example.com"
    )
    actor = Actor(owner)
    workspace = accounts.personal_workspace(owner)
    shared = accounts.create_workspace(creator=owner, name=f"{prefix} shared")
    world = World(owner=owner, workspace=workspace, shared=shared)
    for role in (Role.ADMIN, Role.EDITOR, Role.VIEWER):
        member = accounts.register_user(
            username=f"{prefix}-{role}", password=PASSWORD, email=f"{prefix}-{role}@example.com"
        )
        accounts.add_member(actor=actor, workspace=shared, identifier=member.username, role=role)
        world.members[role] = member
    accounts.create_invitation(
        actor=actor, workspace=shared, email=f"{prefix}-invitee@example.com", role=Role.VIEWER
    )
    for scope_set, name in ((["read"], "read"), (["read", "write"], "write")):
        _key, secret = accounts.create_api_key(
            actor=actor, workspace=shared, name=f"{prefix}-{name}", scopes=scope_set
        )
        world.api_keys[name] = secret

    for target in (workspace, shared):
        chain = workflow_services.create_workflow(actor=actor, workspace=target, definition=CHAIN)
        approval = workflow_services.create_workflow(
            actor=actor, workspace=target, definition=APPROVAL
        )
        done = _run_inline(
            lambda inline, c=chain: start_run(actor=actor, workflow=c, inputs={}, dispatcher=inline)
        )
        waiting = _run_inline(
            lambda inline, a=approval: start_run(
                actor=actor, workflow=a, inputs={}, dispatcher=inline
            )
        )
        schedule = workflow_services.create_schedule(
            actor=actor, workflow=chain, name="nightly", cron="0 3 * * *"
        )
        workflow_services.set_budget(
            actor=actor, workspace=target, monthly_cost_limit=None, monthly_token_limit=10**9
        )
        task = tasks.submit_task(
            actor=actor, task_type="diagnostics.echo", payload={"x": 1}, workspace=target
        )
        usage = ai.complete(workspace=target, user=owner, prompt="hello", model="offline/writer")
        done = Run.objects.get(pk=done.pk)
        made = _through_the_api(owner, target, done)
        world.ids[target.pk] = {
            **made,
            "workflow": chain.pk,
            "approval_workflow": approval.pk,
            "run": done.pk,
            "waiting_run": waiting.pk,
            "document": Document.objects.filter(run=done).order_by("pk").first().pk,
            "schedule": schedule.pk,
            "task": task.pk,
            "usage": usage.usage_id,
        }
    from accounts.workspace_export import build_archive

    archive = build_archive(actor=actor, workspace_id=shared.pk)
    world.ids[shared.pk]["workspace_export"] = archive["download"]
    return world


def _through_the_api(owner, workspace, run) -> dict:
    """What a user makes over HTTP (notifications, reports, an export), each delivered or run
    at once, in this process, by the code a worker would run."""
    from rest_framework.test import APIClient

    from config.testing import wait_until
    from notifications.runner import deliver
    from tasks.models import BackgroundTask
    from tasks.runner import run as run_task

    client = APIClient()
    client.force_authenticate(owner)

    def post(path: str, body: dict) -> dict:
        response = client.post(path, body, format="json")
        assert response.status_code in (200, 201, 202), (path, response.content)
        return response.json()

    here = {"workspace": workspace.pk}
    channel = post("/api/v3/notifications/channels/", {**here, "kind": "in_app", "name": "inbox"})
    template = post("/api/v3/notifications/templates/", {**here, "key": "hi", "body": "Hi {{ x }}"})
    rule = post(
        "/api/v3/notifications/rules/",
        {**here, "name": "failures", "event": "run.failed", "channel": channel["id"]},
    )
    sent = post(
        "/api/v3/advanced/notifications/send",
        {**here, "channel": "in_app", "recipient": f"@{owner.username}", "message": "Hello"},
    )
    for delivery in sent["deliveries"]:
        deliver(str(delivery["id"]))
    report = post("/api/v3/advanced/analytics/reports", {**here, "time_range": "week"})
    browser_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = browser_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    point = base64.urlsafe_b64encode(point).rstrip(b"=").decode()
    subscription = post(
        "/api/v3/notifications/push-subscriptions/",
        {
            "endpoint": f"https://push.example.com/{workspace.pk}",
            "keys": {"p256dh": point, "auth": "AAAAAAAAAAAAAAAAAAAAAA"},
        },
    )
    export = tasks.submit_task(
        actor=Actor(owner), task_type="documents.export", payload={"run_id": run.pk}
    )
    run_task(str(export.pk))  # here, unless a test worker of this process claimed it first
    export = wait_until(
        lambda: BackgroundTask.objects.filter(pk=export.pk, result__isnull=False).first(),
        message="the world's document export",
    )
    return {
        "channel": channel["id"],
        "template": template["id"],
        "rule": rule["id"],
        "notification": sent["id"],
        "delivery": sent["deliveries"][0]["id"],
        "report": report["id"],
        "push_subscription": subscription["id"],
        "export": export.result["download"],
    }
