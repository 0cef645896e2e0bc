"""Web Push, the push channel's browser provider: VAPID keys from the settings (and the
command that makes them), the subscriptions API (own only, SSRF-guarded endpoints, bad keys
refused), and deliveries to a local push service that verifies the VAPID JWT with our public
key and decrypts the aes128gcm payload with the subscriber's private key."""

import os
from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import call_command
from py_vapid import Vapid

from config.testing import assert_error, wait_until
from notifications import runner, vapid
from notifications.models import Delivery, PushSubscription
from notifications.tests.conftest import SEND

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/v3/notifications/push-subscriptions/"
PUBLIC_KEY_URL = "/api/v3/notifications/push/vapid-public-key"


@pytest.fixture
def vapid_keys(settings):
    private, public = vapid.generate()
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = private, public
    settings.VAPID_SUBJECT = "mailto:ops@example.com"
    return private, public


@pytest.fixture
def push_service(local, vapid_keys, unique_path):
    """Makes browser subscriptions at the local push service: (subscription JSON, path)."""
    local.http_state.vapid_public_key = vapid_keys[1]

    def subscribe(answers=(201,)):
        path = unique_path("/push")
        private = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        local.http_state.push_subscribers[path] = (private, auth)
        local.http_state.push_answers[path] = list(answers)
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        body = {
            "endpoint": local.url(path),
            "expirationTime": None,
            "keys": {"p256dh": vapid.b64url(point), "auth": vapid.b64url(auth)},
        }
        return body, path

    return subscribe


def _register(api, body) -> dict:
    response = api.post(SUBSCRIPTIONS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _send_push(api, **body) -> str:
    response = api.post(SEND, {"channel": "push", **body}, format="json")
    assert response.status_code == 202, response.content
    [delivery] = response.json()["deliveries"]
    return delivery["id"]


def test_generate_vapid_keys_prints_a_pair_that_signs(settings):
    out = StringIO()
    call_command("generate_vapid_keys", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    signer = Vapid.from_string(private_key=lines["VAPID_PRIVATE_KEY"])
    assert vapid.public_key_of(signer.private_key) == lines["VAPID_PUBLIC_KEY"]
    assert len(vapid.b64url_decode(lines["VAPID_PUBLIC_KEY"])) == 65


def test_the_public_key_endpoint(alice_api, settings, vapid_keys):
    response = alice_api.get(PUBLIC_KEY_URL)
    assert response.status_code == 200 and response.json() == {"public_key": vapid_keys[1]}
    settings.VAPID_PUBLIC_KEY = vapid.generate()[1]  # not the private key's
    assert_error(alice_api.get(PUBLIC_KEY_URL), 404, "webpush_not_configured")
    settings.VAPID_PRIVATE_KEY = ""
    assert_error(alice_api.get(PUBLIC_KEY_URL), 404, "webpush_not_configured")


def test_subscriptions_are_the_users_own(alice_api, client_for, other_user, push_service):
    body, _ = push_service()
    made = _register(alice_api, body)
    assert made["endpoint"] == body["endpoint"] and made["last_success_at"] is None
    assert "keys" not in made and "auth" not in str(made)
    again = alice_api.post(SUBSCRIPTIONS, body, format="json")  # the browser re-subscribes
    assert again.status_code == 200 and again.json()["id"] == made["id"]
    assert [s["id"] for s in alice_api.get(SUBSCRIPTIONS).json()["results"]] == [made["id"]]

    mallory = client_for(other_user)
    assert mallory.get(SUBSCRIPTIONS).json()["results"] == []
    assert mallory.get(f"{SUBSCRIPTIONS}{made['id']}/").status_code == 404
    assert mallory.delete(f"{SUBSCRIPTIONS}{made['id']}/").status_code == 404
    assert alice_api.delete(f"{SUBSCRIPTIONS}{made['id']}/").status_code == 204
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"endpoint": "http://169.254.169.254/push"}, "unsafe_url"),
        ({"endpoint": "http://127.0.0.1:9/push"}, "unsafe_url"),
        ({"endpoint": "ftp://push.example.com/x"}, "invalid_url"),
        ({"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "validation_error"),
        (
            {"keys": {"p256dh": "B" + "A" * 86, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}},
            "validation_error",
        ),
        ({"keys": {"p256dh": "*not base64*", "auth": "x"}}, "validation_error"),
        ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "validation_error"),
        ({"endpoint": None}, "validation_error"),
    ],
)
def test_bad_subscriptions_are_a_4xx(alice_api, settings, vapid_keys, change, code):
    settings.NOTIFICATIONS_ALLOW_PRIVATE_URLS = False
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    body = {
        "endpoint": "https://push.example.com/wpush/v2/abc",
        "keys": {"p256dh": vapid.b64url(point), "auth": vapid.b64url(os.urandom(16))},
        **change,
    }
    assert_error(alice_api.post(SUBSCRIPTIONS, body, format="json"), 400, code)
    assert not PushSubscription.objects.exists()


def test_a_push_reaches_every_browser_of_the_user_signed_and_encrypted(
    local, alice_api, user, push_service
):
    (first, first_path), (second, second_path) = push_service(), push_service()
    _register(alice_api, first)
    _register(alice_api, second)
    delivery_id = _send_push(
        alice_api,
        recipient="@alice",
        subject="Run #7 failed",
        message="step draft",
        priority="high",
    )
    assert runner.deliver(delivery_id) == "sent"

    for path in (first_path, second_path):
        [request] = local.http_state.on(path)
        assert request.verified is True  # the VAPID JWT verified with our public key
        assert request.headers["urgency"] == "high"
        # Decrypted with this subscriber's private key and auth secret:
        assert request.json["title"] == "Run #7 failed" and request.json["body"] == "step draft"
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.recipient == f"user:{user.pk}" and delivery.provider_status == 201
    assert delivery.provider_response == "2 of 2 subscriptions took it"
    assert PushSubscription.objects.filter(last_success_at__isnull=False).count() == 2


def test_a_gone_subscription_is_deleted(local, alice_api, push_service):
    (alive, _), (gone, gone_path) = push_service(), push_service(answers=[410])
    _register(alice_api, alive)
    _register(alice_api, gone)
    assert runner.deliver(_send_push(alice_api, recipient="@alice", message="m")) == "sent"
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [alive["endpoint"]]
    assert len(local.http_state.on(gone_path)) == 1

    PushSubscription.objects.all().delete()
    _register(alice_api, push_service(answers=[404])[0])  # the only one, and unknown there
    delivery_id = _send_push(alice_api, recipient="@alice", message="m")
    assert runner.deliver(delivery_id) == "failed"
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.error_code == "push_subscription_gone" and delivery.attempts == 1
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("transient", [429, 503])
def test_429_and_5xx_are_retried(local, alice_api, push_service, transient):
    body, path = push_service(answers=[transient, 201])
    _register(alice_api, body)
    delivery_id = _send_push(alice_api, recipient="@alice", message="again")
    assert runner.deliver(delivery_id) == "retrying"
    assert Delivery.objects.get(pk=delivery_id).error_code == f"http_{transient}"
    assert wait_until(lambda: runner.deliver(delivery_id) == "sent", timeout=10)
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.attempts == 2 and delivery.status == "sent"
    assert [r.json["body"] for r in local.http_state.on(path)] == ["again", "again"]


def test_a_webpush_channel_and_bad_recipients(alice_api, workspace, settings, push_service):
    made = alice_api.post(
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": "push", "name": "browsers",
         "config": {"provider": "webpush"}},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["config"] == {"provider": "webpush"}
    body, path = push_service()
    _register(alice_api, body)
    delivery_id = _send_push(
        alice_api, channel_id=made.json()["id"], recipient="@alice", message="m"
    )
    assert runner.deliver(delivery_id) == "sent"

    raw = alice_api.post(SEND, {"channel": "push", "recipient": "some-topic", "message": "m"},
                         format="json")  # fmt: skip
    assert_error(raw, 400, "recipient_invalid")
    settings.VAPID_PRIVATE_KEY = ""
    off = alice_api.post(SEND, {"channel": "push", "recipient": "@alice", "message": "m"},
                         format="json")  # fmt: skip
    assert_error(off, 400, "webpush_not_configured")
