"""Each of the eight channels delivers to its local receiver: sent through the API, run by
the same code a worker runs (`runner.deliver`), and checked at the receiver."""

import pytest
from standardwebhooks.webhooks import Webhook

from accounts.models import Role
from notifications import runner
from notifications.models import Delivery, InboxItem
from notifications.tests.conftest import SEND
from notifications.tests.receivers import TWILIO_SID, TWILIO_TOKEN

pytestmark = pytest.mark.django_db


def channel(api, workspace, kind, name=None, **body):
    response = api.post(
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": kind, "name": name or kind, **body},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def send(api, **body):
    response = api.post(SEND, body, format="json")
    assert response.status_code == 202, response.content
    return response.json()


def deliver_all(notification: dict) -> list[Delivery]:
    for row in notification["deliveries"]:
        runner.deliver(row["id"])
    return list(Delivery.objects.filter(notification_id=notification["id"]))


def test_email_arrives_with_text_html_and_an_opt_out_link(local, alice_api):
    sent = send(
        alice_api, channel="email", recipient="bob@example.com", subject="Test", message="Hello"
    )
    [delivery] = deliver_all(sent)
    assert delivery.status == "sent" and delivery.attempts == 1
    mail = local.mails[-1]
    assert mail["to"] == ["bob@example.com"]
    message = mail["message"]
    assert message["Subject"] == "Test"
    assert "/api/v3/notifications/opt-out?token=" in message["List-Unsubscribe"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert text.startswith("Hello") and "Stop these emails" in text
    assert "<p>Hello</p>" in html


def test_slack_gets_blocks_and_a_fallback_text(local, alice_api, workspace, unique_path):
    path = unique_path("/slack")
    made = channel(alice_api, workspace, "slack", secrets={"url": local.url(path)})
    assert "url" not in made["config"] and made["secrets"]["url"].startswith("…")
    sent = send(alice_api, channel="slack", subject="Deploy", message="*done*")
    [delivery] = deliver_all(sent)
    assert delivery.status == "sent", delivery.error
    [request] = local.http_state.on(path)
    assert request.json["text"] == "Deploy\n*done*"
    assert request.json["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Deploy"},
    }
    assert delivery.provider_response == "ok"


def test_discord_gets_an_embed(local, alice_api, workspace, unique_path):
    path = unique_path("/discord")
    channel(alice_api, workspace, "discord", secrets={"url": local.url(path)})
    [delivery] = deliver_all(send(alice_api, channel="discord", subject="Hi", message="there"))
    assert delivery.status == "sent" and delivery.provider_status == 204
    embed = local.http_state.on(path)[0].json["embeds"][0]
    assert embed["title"] == "Hi" and embed["description"] == "there"


def test_teams_gets_an_adaptive_card(local, alice_api, workspace, unique_path):
    path = unique_path("/teams")
    channel(alice_api, workspace, "teams", secrets={"url": local.url(path)})
    [delivery] = deliver_all(send(alice_api, channel="teams", subject="Hi", message="there"))
    assert delivery.status == "sent" and delivery.provider_status == 202
    card = local.http_state.on(path)[0].json["attachments"][0]["content"]
    assert [block["text"] for block in card["body"]] == ["Hi", "there"]


def test_sms_goes_through_the_twilio_compatible_api(local, alice_api, workspace):
    channel(
        alice_api,
        workspace,
        "sms",
        config={
            "account_sid": TWILIO_SID,
            "from_number": "+15550000000",
            "base_url": local.url("/twilio"),
        },
        secrets={"auth_token": TWILIO_TOKEN},
    )
    [delivery] = deliver_all(send(alice_api, channel="sms", recipient="+14155550123", message="Hi"))
    assert delivery.status == "sent", delivery.error
    assert delivery.provider_status == 201 and delivery.provider_message_id.startswith("SM")
    request = [r for r in local.http_state.on("/twilio") if r.form.get("To") == "+14155550123"][-1]
    assert request.form == {"To": "+14155550123", "From": "+15550000000", "Body": "Hi"}


def test_push_publishes_to_ntfy(local, alice_api, workspace):
    channel(
        alice_api,
        workspace,
        "push",
        config={"server_url": local.url("/ntfy"), "topic": "docchain-alerts"},
    )
    sent = send(alice_api, channel="push", subject="Run", message="failed", priority="high")
    [delivery] = deliver_all(sent)
    assert delivery.status == "sent", delivery.error
    assert delivery.recipient == "docchain-alerts"
    published = [r.json for r in local.http_state.on("/ntfy") if r.json["message"] == "failed"][-1]
    assert published == {
        "topic": "docchain-alerts",
        "message": "failed",
        "priority": 4,
        "title": "Run",
    }


def test_webhook_is_signed_per_standard_webhooks_and_the_secret_is_shown_once(
    local, alice_api, workspace, unique_path
):
    path = unique_path("/webhook")
    made = channel(alice_api, workspace, "webhook", config={"url": local.url(path)})
    secret = made["secrets_shown_once"]["signing_secret"]
    assert secret.startswith("whsec_")
    local.http_state.webhook_secrets[path] = secret
    shown = alice_api.get(f"/api/v3/notifications/channels/{made['id']}/").json()
    assert secret not in str(shown) and "secrets_shown_once" not in shown

    [delivery] = deliver_all(send(alice_api, channel="webhook", subject="S", message="M"))
    assert delivery.status == "sent", delivery.error
    [request] = local.http_state.on(path)
    assert request.verified is True
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["data"]["delivery_id"] == str(delivery.pk)
    assert request.headers["webhook-id"] == delivery.provider_message_id


def test_a_webhook_with_a_wrong_signature_is_refused_by_the_receiver(
    local, alice_api, workspace, unique_path
):
    path = unique_path("/webhook")
    channel(alice_api, workspace, "webhook", config={"url": local.url(path)})
    local.http_state.webhook_secrets[path] = "whsec_" + "A" * 44  # not the channel's
    [delivery] = deliver_all(send(alice_api, channel="webhook", message="M"))
    assert delivery.status == "failed" and delivery.provider_status == 401


def test_in_app_is_stored_in_the_users_inbox(
    local, alice_api, user, make_user, workspace, add_member, client_for
):
    bob = make_user("bob")
    add_member(workspace, bob, Role.VIEWER)
    sent = send(alice_api, channel="in_app", recipients=["@bob", f"user:{user.pk}"], message="Hi")
    deliveries = deliver_all(sent)
    assert {d.status for d in deliveries} == {"sent"}
    assert InboxItem.objects.filter(user=bob, message="Hi").count() == 1
    bob_api = client_for(bob)
    assert bob_api.get("/api/v3/notifications/inbox/unread-count").json() == {"unread": 1}
    [item] = bob_api.get("/api/v3/notifications/inbox/").json()["results"]
    assert bob_api.post(f"/api/v3/notifications/inbox/{item['id']}/read").json()["read"] is True
    assert bob_api.get("/api/v3/notifications/inbox/unread-count").json() == {"unread": 0}
    # alice's own item: bob cannot read it (404), alice marks all hers read
    alice_item = InboxItem.objects.get(user=user)
    assert bob_api.post(f"/api/v3/notifications/inbox/{alice_item.pk}/read").status_code == 404
    assert alice_api.post("/api/v3/notifications/inbox/read-all").json() == {"marked": 1}


def test_a_400_is_a_permanent_failure_at_once(local, alice_api):
    sent = send(alice_api, channel="slack", recipient=local.url("/bad/x"), message="M")
    [delivery] = deliver_all(sent)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert delivery.provider_status == 400 and delivery.error_code == "http_400"
    assert delivery.provider_response == "invalid_payload"


def test_an_invalid_number_is_a_permanent_failure(local, alice_api, workspace):
    channel(
        alice_api,
        workspace,
        "sms",
        config={
            "account_sid": TWILIO_SID,
            "from_number": "+15550000000",
            "base_url": local.url("/twilio"),
        },
        secrets={"auth_token": TWILIO_TOKEN},
    )
    [delivery] = deliver_all(send(alice_api, channel="sms", recipient="+15005550001", message="x"))
    assert delivery.status == "failed" and "21211" in delivery.provider_response


def test_a_delivery_is_claimed_once(local, alice_api):
    sent = send(alice_api, channel="email", recipient="once@example.com", message="M")
    delivery_id = sent["deliveries"][0]["id"]
    before = len(local.mails)
    assert runner.deliver(delivery_id) == "sent"
    assert runner.deliver(delivery_id) == "not_claimed"  # a duplicate message finds nothing
    assert len(local.mails) == before + 1


def test_the_sweep_fails_what_a_dead_worker_left_sending_and_never_resends_it(local, alice_api):
    from datetime import timedelta

    from django.utils import timezone

    sent = alice_api.post(
        SEND, {"channel": "email", "recipient": "x@example.com", "message": "m"}, format="json"
    ).json()
    delivery_id = sent["deliveries"][0]["id"]
    assert runner.claim(delivery_id) is not None  # the worker claimed it, then died
    long_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=delivery_id).update(sending_at=long_ago, updated_at=long_ago)
    assert runner.sweep()["failed_stuck"] == 1
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "failed" and delivery.error_code == "worker_lost"
    assert runner.deliver(delivery_id) == "not_claimed"
