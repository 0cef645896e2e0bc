"""Access that ends while a connection is open (in-memory channel layer; the Redis one in
test_end_to_end.py): a removed member's connections leave that workspace's topics and rooms at
once, and an API key's connections close when the key is revoked or expires."""

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, Role, Workspace
from accounts.scoping import Actor
from realtime import events, fanout, groups
from realtime.consumers import CLOSE_UNAUTHENTICATED
from realtime.tests.conftest import connected, request
from workflows.tests.factories import make_run, make_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def shared(user, other_user, workspace, add_member):
    """alice's workspace, where mallory is an editor, with a workflow and a run of it."""
    membership = add_member(workspace, other_user, Role.EDITOR)
    run = make_run(make_workflow(user, workspace))
    return membership, run


def remove(actor_user, membership):
    return sync_to_async(services.remove_member)(actor=Actor(actor_user), membership=membership)


async def closed_for(client, code: str) -> None:
    """The connection says why (an `error` with `code`), then closes with 4401."""
    error = await client.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["data"]["code"] == code, error
    closed = await client.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == CLOSE_UNAUTHENTICATED
    await client.send_input({"type": "websocket.disconnect", "code": CLOSE_UNAUTHENTICATED})
    await client.wait()


async def test_a_removed_member_leaves_the_workspaces_run_and_rooms_and_is_told_why(
    user, other_user, workspace, other_workspace, shared
):
    membership, run = shared
    alice, mallory = await connected(user), await connected(other_user)
    for client in (alice, mallory):
        assert (await request(client, {"type": "join_run", "run_id": run.pk}))[
            "type"
        ] == "run.snapshot"
    join_lobby = {"type": "join_room", "room": "lobby", "workspace_id": workspace.pk}
    assert (await request(mallory, join_lobby))["type"] == "room.joined"
    # A room of mallory's own workspace, which she keeps.
    assert (await request(mallory, {"type": "join_room", "room": "lobby"}))["data"][
        "workspace_id"
    ] == other_workspace.pk

    # A role change keeps the membership: mallory, now a viewer, still hears the run.
    await sync_to_async(services.change_role)(
        actor=Actor(user), membership=membership, role=Role.VIEWER
    )
    sent = await events.apublish(
        "step.started", {"run_id": run.pk}, groups=[groups.run_group(run.pk)]
    )
    assert await mallory.receive_json_from() == sent
    assert await alice.receive_json_from() == sent

    await remove(user, membership)
    left_run = await mallory.receive_json_from(timeout=5)
    assert left_run["type"] == "run.left"
    assert left_run["data"] == {"run_id": run.pk, "reason": "access_revoked"}
    left_room = await mallory.receive_json_from()
    assert left_room["type"] == "room.left"
    assert left_room["data"] == {
        "room": "lobby",
        "workspace_id": workspace.pk,
        "reason": "access_revoked",
    }
    revoked = await mallory.receive_json_from()
    assert revoked["type"] == "access.revoked"
    assert revoked["data"] == {"workspace_id": workspace.pk}

    # The run's events and the workspace's room reach alice only.
    sent = await events.apublish(
        "step.succeeded", {"run_id": run.pk}, groups=[groups.run_group(run.pk)]
    )
    assert await alice.receive_json_from() == sent
    await request(alice, {"type": "join_room", "room": "lobby"})
    await request(alice, {"type": "broadcast", "room": "lobby", "data": "after"})
    assert await mallory.receive_nothing(timeout=0.2)
    # Her own workspace's room is untouched, and she can no longer join the run.
    heard = await request(mallory, {"type": "broadcast", "room": "lobby", "data": "mine"})
    assert heard["type"] == "room.message" and heard["data"]["data"] == "mine"
    error = await request(mallory, {"type": "join_run", "run_id": run.pk})
    assert error["data"]["code"] == "not_found"
    await alice.disconnect()
    await mallory.disconnect()


async def test_a_member_who_leaves_hears_no_more_of_the_workflow_on_any_connection(
    user, other_user, workspace, shared
):
    membership, run = shared
    first, second = await connected(other_user), await connected(other_user)
    for client in (first, second):
        snapshot = await request(client, {"type": "join_workflow", "workflow_id": run.workflow_id})
        assert snapshot["type"] == "workflow.snapshot"
    await remove(other_user, membership)  # she leaves herself
    for client in (first, second):
        left = await client.receive_json_from(timeout=5)
        assert left["type"] == "workflow.left"
        assert left["data"] == {"workflow_id": run.workflow_id, "reason": "access_revoked"}
        assert (await client.receive_json_from())["type"] == "access.revoked"
    await events.apublish(
        "run.started", {"run_id": run.pk}, groups=[groups.workflow_group(run.workflow_id)]
    )
    for client in (first, second):
        assert await client.receive_nothing(timeout=0.2)
        await client.disconnect()


async def test_deleting_a_workspace_revokes_every_members_access_and_its_keys(user, other_user):
    team = await sync_to_async(services.create_workspace)(creator=user, name="Team")
    await sync_to_async(services.add_member)(
        actor=Actor(user), workspace=team, identifier="mallory", role=Role.VIEWER
    )
    _, secret = await sync_to_async(services.create_api_key)(
        actor=Actor(user), workspace=team, name="team", scopes=["read"]
    )
    alice, mallory = await connected(user), await connected(other_user)
    keyed = await connected(query=f"api_key={secret}")
    for client in (alice, mallory):
        joined = await request(client, {"type": "join_workspace", "workspace_id": team.pk})
        assert joined["type"] == "workspace.snapshot"

    await Workspace.objects.filter(pk=team.pk).adelete()
    for client in (alice, mallory):
        left = await client.receive_json_from(timeout=5)
        assert left["type"] == "workspace.left" and left["data"]["workspace_id"] == team.pk
        revoked = await client.receive_json_from()
        assert revoked == {**revoked, "type": "access.revoked", "data": {"workspace_id": team.pk}}
        await client.disconnect()
    await closed_for(keyed, "api_key_revoked")


async def test_revoking_an_api_key_closes_its_connections_only(user, workspace):
    _, secret = await sync_to_async(services.create_api_key)(
        actor=Actor(user), workspace=workspace, name="ws", scopes=["read"]
    )
    keyed, by_token = await connected(query=f"api_key={secret}"), await connected(user)
    assert (await request(keyed, {"type": "join_room", "room": "lobby"}))["type"] == "room.joined"
    api_key = await ApiKey.objects.aget(workspace=workspace)
    await sync_to_async(services.revoke_api_key)(actor=Actor(user), api_key=api_key)
    await closed_for(keyed, "api_key_revoked")
    # The user's other connection is not the key's.
    assert await by_token.receive_nothing(timeout=0.2)
    assert (await request(by_token, {"type": "ping"}))["type"] == "pong"
    await by_token.disconnect()


async def test_an_api_key_connection_closes_when_the_keys_creator_leaves_its_workspace(
    user, other_user, workspace, other_workspace, add_member
):
    membership = await sync_to_async(add_member)(workspace, other_user, Role.ADMIN)
    keys = {}
    for name, where in (("alices", workspace), ("own", other_workspace)):
        _, keys[name] = await sync_to_async(services.create_api_key)(
            actor=Actor(other_user), workspace=where, name=name, scopes=["read"]
        )
    in_alices, in_own = [await connected(query=f"api_key={keys[n]}") for n in ("alices", "own")]
    await remove(user, membership)
    await closed_for(in_alices, "api_key_revoked")
    # A key reaches one workspace: another workspace's news is not for it.
    assert await in_own.receive_nothing(timeout=0.2)
    assert (await request(in_own, {"type": "ping"}))["type"] == "pong"
    await in_own.disconnect()


async def test_an_api_key_connection_closes_when_the_key_expires(user, workspace):
    _, secret = await sync_to_async(services.create_api_key)(
        actor=Actor(user),
        workspace=workspace,
        name="short",
        scopes=["read"],
        expires_at=timezone.now() + timedelta(seconds=1),
    )
    keyed = await connected(query=f"api_key={secret}")
    assert (await request(keyed, {"type": "ping"}))["type"] == "pong"
    await closed_for(keyed, "api_key_expired")


async def test_a_connection_older_than_the_layers_group_expiry_still_hears_revocations(
    user, workspace, monkeypatch
):
    """channels-redis forgets group members after `group_expiry` (a day); an API key's
    connection may outlive that. Here a layer that forgets after a second."""
    layer = get_channel_layer()
    monkeypatch.setattr(layer, "group_expiry", 1)
    monkeypatch.setattr(fanout, "RENEW_SECONDS", 0.2)
    api_key, secret = await sync_to_async(services.create_api_key)(
        actor=Actor(user), workspace=workspace, name="long-lived", scopes=["read"]
    )
    keyed = await connected(query=f"api_key={secret}")
    key_group, joined = groups.api_key_group(api_key.prefix), time.time()

    async def renewed_past_the_expiry():
        # The connection re-joined its key's group after the first join would have expired.
        while True:
            stamps = layer.groups.get(key_group, {}).values()
            if stamps and min(stamps) > joined + layer.group_expiry:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(renewed_past_the_expiry(), timeout=10)
    await sync_to_async(services.revoke_api_key)(actor=Actor(user), api_key=api_key)
    await closed_for(keyed, "api_key_revoked")


async def test_a_deactivated_users_connections_close_and_others_stay(user, other_user):
    alice, mallory = await connected(user), await connected(other_user)

    other_user.is_active = False
    await sync_to_async(other_user.save)()

    await closed_for(mallory, "account_disabled")
    pong = await request(alice, {"type": "ping"})
    assert pong["type"] == "pong"
    await alice.disconnect()
