"""The WebSocket server applies the HTTP API's session rules: a logged-out or revoked
session's token is refused, and its open connections close at once (other sessions of the
same user stay); a user a workspace obliges to use MFA, without it, is refused."""

import pytest
from asgiref.sync import sync_to_async
from rest_framework_simplejwt.tokens import AccessToken

from accounts import sessions
from accounts.models import LoginSession, WorkspaceSecurityPolicy
from realtime.consumers import CLOSE_UNAUTHENTICATED
from realtime.tests.conftest import communicator, connected, request, token_for
from realtime.tests.test_revocation import closed_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _revoke(token: str) -> None:
    sid = AccessToken(token)[sessions.SID_CLAIM]
    session = await LoginSession.objects.aget(pk=sid)
    await sync_to_async(sessions.revoke)(session=session, reason="logout")


async def test_revoking_a_session_closes_its_connections_only(user):
    mine, other = token_for(user), token_for(user)
    doomed = await connected(query=f"token={mine}")
    kept = await connected(query=f"token={other}")

    await _revoke(mine)

    await closed_for(doomed, "session_revoked")
    assert (await request(kept, {"type": "ping"}))["type"] == "pong"
    await kept.disconnect()
    # The same token cannot connect again.
    client = communicator(f"token={mine}")
    ok, code = await client.connect()
    assert not ok and code == CLOSE_UNAUTHENTICATED


async def test_required_mfa_without_it_is_refused(user, workspace):
    token = token_for(user)
    await WorkspaceSecurityPolicy.objects.acreate(workspace=workspace, require_mfa=True)
    client = communicator(f"token={token}")
    ok, code = await client.connect()
    assert not ok and code == CLOSE_UNAUTHENTICATED
