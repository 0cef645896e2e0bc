"""The SSRF guard: every user-supplied URL is checked on the address actually connected to."""

import pytest

from notifications import net, runner
from notifications.errors import UnsafeURL
from notifications.tests.conftest import SEND


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "fd12:3456::1",
        "fe80::1",
        "224.0.0.1",
        "ff02::1",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_private_and_special_addresses_are_refused(settings, address):
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False
    assert net.address_refused(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "1.1.1.1"])
def test_public_addresses_are_allowed(settings, address):
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False
    assert net.address_refused(address) is None


def test_the_allow_list_opens_a_network_for_self_hosters(settings):
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False
    settings.NOTIFICATIONS_URL_ALLOWLIST = ["10.0.5.0/24"]
    assert net.address_refused("10.0.5.7") is None
    assert net.address_refused("10.0.6.7") == "private"


def test_a_name_that_resolves_to_loopback_is_refused_at_connect_time(settings, local):
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False
    url = local.url("/slack/x").replace("127.0.0.1", "localhost")
    with pytest.raises(UnsafeURL):
        net.post(url, b"{}", headers={})
    before = len(local.http_state.requests)
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = True
    assert net.post(url, b"{}", headers={}).status == 400  # reachable when allowed
    assert len(local.http_state.requests) == before + 1


@pytest.mark.django_db
def test_a_delivery_whose_address_became_private_fails_without_connecting(
    settings, local, alice_api, unique_path
):
    """Validated while allowed, sent after the guard is on (as with DNS rebinding: the name
    resolved somewhere else when it was checked): the connect-time check refuses it."""
    path = unique_path("/slack")
    sent = alice_api.post(
        SEND, {"channel": "slack", "recipient": local.url(path), "message": "x"}, format="json"
    ).json()
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False
    assert runner.deliver(sent["deliveries"][0]["id"]) == "failed"
    assert not local.http_state.on(path)
    listed = alice_api.get(f"/api/v3/notifications/deliveries/{sent['deliveries'][0]['id']}/")
    assert listed.json()["error_code"] == "unsafe_url" and listed.json()["attempts"] == 1


def test_connections_are_kept_alive_but_never_past_a_stricter_guard(local, settings, unique_path):
    path = unique_path("/nowhere")  # the receiver answers 404: only the connection matters
    url = local.url(path)
    net.close_kept()
    assert net.post(url, b"{}", headers={}).status == 404
    assert net.post(url, b"{}", headers={}).status == 404
    first, second = local.http_state.on(path)
    assert first.peer == second.peer  # one TCP connection for both

    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False  # the kept connection is to 127.0.0.1
    with pytest.raises(UnsafeURL):
        net.post(url, b"{}", headers={})
    assert len(local.http_state.on(path)) == 2
    net.close_kept()
