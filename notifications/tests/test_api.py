"""The API's answers: bad input is a 4xx in the error shape, other workspaces are 404,
secrets never come back, bulk is all or nothing, idempotency keys and rate limits hold."""

import re
import uuid

import pytest
from django.urls import reverse

from accounts.models import Role
from config.testing import assert_error
from notifications.models import Delivery, Notification
from notifications.tests.conftest import BULK, SEND

pytestmark = pytest.mark.django_db

EMAIL = {"channel": "email", "recipient": "user@example.com", "subject": "Test", "message": "Hi"}


def post(api, path, body):
    return api.post(path, body, format="json")


@pytest.mark.parametrize(
    ("body", "code", "mentions"),
    [
        ({**EMAIL, "channel": "carrier-pigeon"}, "validation_error", "channel"),
        ({**EMAIL, "recipient": "not-an-address"}, "recipient_invalid", "email address"),
        ({"channel": "sms", "recipient": "12345", "message": "x"}, "channel_not_configured", "sms"),
        ({"channel": "email", "recipient": "a@b.co"}, "validation_error", "message"),
        ({**EMAIL, "message": "x" * 20001}, "validation_error", "message"),
        ({**EMAIL, "template": "nope"}, "template_not_found", "nope"),
        (
            {**EMAIL, "template": "run_failed", "context": {"run": {"id": 1}}},
            "template_variable_missing",
            "workflow.name",
        ),
        ({**EMAIL, "channel": "in_app"}, "recipient_invalid", "users"),
        ({**EMAIL, "recipient": "user:999999"}, "recipient_invalid", "not a member"),
        (
            {"channel": "slack", "recipient": "ftp://x.example/hook", "message": "x"},
            "invalid_url",
            "http",
        ),
        (
            {"channel": "slack", "recipient": "http://169.254.169.254/latest", "message": "x"},
            "unsafe_url",
            "link-local",
        ),
        ({**EMAIL, "channel_id": 999999}, "not_found", "channel"),
        ({**EMAIL, "priority": "urgent"}, "validation_error", "priority"),
    ],
)
def test_bad_input_is_a_clear_4xx(alice_api, body, code, mentions):
    response = post(alice_api, SEND, body)
    assert 400 <= response.status_code < 500
    error = assert_error(response, response.status_code, code)
    assert mentions in error["message"] or mentions in str(error["details"]), error
    assert not Notification.objects.exists()


def test_the_briefs_body_answers_202_with_the_notification_and_its_deliveries(alice_api):
    response = post(alice_api, SEND, EMAIL)
    assert response.status_code == 202
    body = response.json()
    assert body["subject"] == "Test" and body["message"] == "Hi" and body["priority"] == "normal"
    assert [(d["recipient"], d["status"]) for d in body["deliveries"]] == [
        ("user@example.com", "queued")
    ]


def test_deliveries_filter_by_their_notifications_id(alice_api):
    """A foreign key to a UUID primary key filters by that UUID (the filtersets' base picks
    the filter by the related key's type)."""
    sent = post(alice_api, SEND, EMAIL).json()
    url = "/api/v3/notifications/deliveries/"
    mine = alice_api.get(url, {"notification": sent["id"]})
    assert mine.status_code == 200, mine.content
    assert [d["id"] for d in mine.json()["results"]] == [d["id"] for d in sent["deliveries"]]
    assert alice_api.get(url, {"notification": str(uuid.uuid4())}).json()["results"] == []
    assert_error(alice_api.get(url, {"notification": "12"}), 400, "validation_error")


def test_a_template_renders_with_its_context_and_html_is_autoescaped(alice_api, workspace):
    made = post(
        alice_api,
        "/api/v3/notifications/templates/",
        {
            "workspace": workspace.pk,
            "key": "hello",
            "subject": "Hi {{ name }}",
            "body": "Hello {{ name }}",
            "html_body": "<p>Hello {{ name }}</p>",
        },
    )
    assert made.status_code == 201, made.content
    sent = post(
        alice_api,
        SEND,
        {
            "channel": "email",
            "recipient": "a@example.com",
            "template": "hello",
            "context": {"name": "<script>x</script>"},
        },
    )
    assert sent.status_code == 202, sent.content
    notification = Notification.objects.get()
    assert notification.subject == "Hi <script>x</script>"  # text stays text
    assert notification.html == "<p>Hello &lt;script&gt;x&lt;/script&gt;</p>"


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("{% load static %}", "template_invalid"),
        ("{% if %}", "template_invalid"),
        ("{% include 'x.html' %}", "template_invalid"),
    ],
)
def test_a_template_that_does_not_parse_or_uses_a_forbidden_tag_is_refused(
    alice_api, workspace, source, code
):
    response = post(
        alice_api,
        "/api/v3/notifications/templates/",
        {"workspace": workspace.pk, "key": "bad", "body": source},
    )
    assert_error(response, 400, code)


def test_bulk_is_all_or_nothing_and_names_the_bad_item(alice_api):
    good = {"channel": "email", "recipient": "a@example.com", "message": "one"}
    bad = {"channel": "email", "recipient": "nope", "message": "two"}
    error = assert_error(post(alice_api, BULK, {"notifications": [good, good, bad]}), 400)
    assert error["details"]["index"] == 2 and error["message"].startswith("Item 2:")
    assert not Notification.objects.exists()

    response = post(alice_api, BULK, {"notifications": [good, {**good, "message": "two"}]})
    assert response.status_code == 202, response.content
    assert [n["message"] for n in response.json()["notifications"]] == ["one", "two"]
    assert Delivery.objects.count() == 2


def test_bulk_has_a_limit(alice_api, settings):
    settings.NOTIFICATIONS_BULK_LIMIT = 2
    item = {"channel": "email", "recipient": "a@example.com", "message": "x"}
    assert_error(post(alice_api, BULK, {"notifications": [item] * 3}), 400, "bulk_limit_exceeded")


def test_an_idempotency_key_sends_once(alice_api):
    body = {**EMAIL, "idempotency_key": "k-1"}
    first = post(alice_api, SEND, body).json()
    second = post(alice_api, SEND, body)
    assert second.status_code == 202 and second.json()["id"] == first["id"]
    assert Delivery.objects.count() == 1
    assert_error(post(alice_api, SEND, {**body, "message": "other"}), 409, "idempotency_key_reused")


def test_raw_addresses_need_an_editor_but_members_can_be_named(
    alice_api, client_for, make_user, workspace, add_member, user
):
    viewer = make_user("vic")
    add_member(workspace, viewer, Role.VIEWER)
    viewer_api = client_for(viewer)
    body = {**EMAIL, "workspace": workspace.pk}
    assert_error(post(viewer_api, SEND, body), 400, "permission_denied")
    response = post(viewer_api, SEND, {**body, "recipient": "@alice"})
    assert response.status_code == 202
    assert response.json()["deliveries"][0]["recipient"] == user.email


def test_another_workspace_is_404(alice_api, client_for, other_user, other_workspace):
    sent = post(alice_api, SEND, EMAIL).json()
    mallory = client_for(other_user)
    assert mallory.get(f"/api/v3/notifications/{sent['id']}/").status_code == 404
    delivery_id = sent["deliveries"][0]["id"]
    assert mallory.get(f"/api/v3/notifications/deliveries/{delivery_id}/").status_code == 404
    assert mallory.post(f"/api/v3/notifications/deliveries/{delivery_id}/retry").status_code == 404
    assert mallory.get("/api/v3/notifications/").json()["count"] == 0
    # Naming alice's workspace in a send: that workspace does not exist for mallory.
    response = post(mallory, SEND, {**EMAIL, "workspace": sent["workspace"]})
    assert_error(response, 400, "validation_error")


def test_a_queued_delivery_cannot_be_retried(alice_api):
    sent = post(alice_api, SEND, EMAIL).json()
    response = alice_api.post(
        f"/api/v3/notifications/deliveries/{sent['deliveries'][0]['id']}/retry"
    )
    assert_error(response, 409, "delivery_not_retryable")


def test_history_filters(alice_api):
    post(alice_api, SEND, EMAIL)
    post(
        alice_api,
        SEND,
        {"channel": "slack", "recipient": "https://hooks.slack.com/services/T/B/x", "message": "m"},
    )
    listed = alice_api.get("/api/v3/notifications/", {"channel": "slack"}).json()
    assert [n["channel"] for n in listed["results"]] == ["slack"]
    deliveries = alice_api.get(
        "/api/v3/notifications/deliveries/", {"recipient": "user@", "status": "queued"}
    ).json()
    assert [d["recipient"] for d in deliveries["results"]] == ["user@example.com"]
    assert (
        alice_api.get(
            "/api/v3/notifications/deliveries/", {"since": "2999-01-01T00:00:00Z"}
        ).json()["count"]
        == 0
    )
    assert_error(alice_api.get("/api/v3/notifications/deliveries/", {"status": "nope"}), 400)


def test_channels_keep_their_secrets(alice_api, workspace):
    response = post(
        alice_api,
        "/api/v3/notifications/channels/",
        {
            "workspace": workspace.pk,
            "kind": "slack",
            "name": "ops",
            "secrets": {"url": "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"},
        },
    )
    assert response.status_code == 201
    assert "XXXXsecret" not in response.content.decode()
    listed = alice_api.get("/api/v3/notifications/channels/").content.decode()
    assert "XXXXsecret" not in listed and "…XXXX" in listed


@pytest.mark.parametrize(
    ("kind", "body", "code"),
    [
        ("slack", {"secrets": {"url": "http://10.0.0.5/hook"}}, "unsafe_url"),
        ("teams", {"secrets": {"url": "http://100.64.1.1/hook"}}, "unsafe_url"),
        ("discord", {"secrets": {"url": "http://[fd00::1]/hook"}}, "unsafe_url"),
        ("webhook", {"config": {"url": "http://127.0.0.1:9/x"}}, "unsafe_url"),
        ("webhook", {"config": {"url": "javascript:alert(1)"}}, "invalid_url"),
        ("push", {"config": {"server_url": "http://[fe80::1]/", "topic": "t"}}, "unsafe_url"),
        (
            "sms",
            {
                "config": {
                    "account_sid": "AC1",
                    "from_number": "+15550000000",
                    "base_url": "http://192.168.1.1",
                },
                "secrets": {"auth_token": "t"},
            },
            "unsafe_url",
        ),
        (
            "sms",
            {"config": {"account_sid": "AC1"}, "secrets": {"auth_token": "t"}},
            "validation_error",
        ),
    ],
)
def test_channel_urls_are_checked(alice_api, workspace, kind, body, code):
    response = post(
        alice_api,
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": kind, "name": kind, **body},
    )
    assert_error(response, 400, code)


def test_channels_need_an_admin(client_for, make_user, workspace, add_member):
    editor = make_user("ed")
    add_member(workspace, editor, Role.EDITOR)
    response = post(
        client_for(editor),
        "/api/v3/notifications/channels/",
        {"workspace": workspace.pk, "kind": "in_app", "name": "x"},
    )
    assert_error(response, 403, "insufficient_role")


def test_the_rate_limit_stops_a_burst(local, alice_api, settings):
    settings.NOTIFICATIONS_RATE_PER_CHANNEL = {"default": 2}
    assert post(alice_api, SEND, {**EMAIL, "recipients": ["b@example.com"]}).status_code == 202
    response = post(alice_api, SEND, EMAIL)
    error = assert_error(response, 429, "rate_limited")
    assert error["details"]["scope"] == "channel" and response["Retry-After"]
    settings.NOTIFICATIONS_RATE_PER_CHANNEL = {"default": 100}
    settings.NOTIFICATIONS_RATE_PER_WORKSPACE = 3
    assert_error(post(alice_api, SEND, {**EMAIL, "recipients": ["c@example.com"]}), 429)


def test_preferences_round_trip_and_skip_a_channel(alice_api, user, workspace):
    response = alice_api.put(
        "/api/v3/notifications/preferences",
        {
            "channels_by_event": {"default": ["in_app"]},
            "timezone": "Europe/Madrid",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
            "phone": "+34600000000",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert alice_api.get("/api/v3/notifications/preferences").json()["timezone"] == "Europe/Madrid"
    sent = post(alice_api, SEND, {**EMAIL, "recipient": "@alice"}).json()
    assert sent["deliveries"][0]["status"] == "skipped"
    assert sent["deliveries"][0]["error_code"] == "preference"
    bad = alice_api.patch(
        "/api/v3/notifications/preferences", {"timezone": "Mars/Olympus"}, format="json"
    )
    assert_error(bad, 400, "validation_error")
    bad = alice_api.patch(
        "/api/v3/notifications/preferences", {"channels_by_event": {"x": ["email"]}}, format="json"
    )
    assert_error(bad, 400, "validation_error")


def test_the_opt_out_link_stops_email_to_that_address(alice_api, api):
    from notifications.optout import make_token

    sent = post(alice_api, SEND, EMAIL).json()
    token = make_token(workspace_id=sent["workspace"], address="user@example.com")
    response = api.get("/api/v3/notifications/opt-out", {"token": token})
    assert response.json() == {"opted_out": True, "address": "user@example.com"}
    again = post(alice_api, SEND, {**EMAIL, "message": "again"}).json()
    assert again["deliveries"][0]["status"] == "skipped"
    assert again["deliveries"][0]["error_code"] == "opted_out"
    assert_error(api.get("/api/v3/notifications/opt-out", {"token": token + "x"}), 400)


def test_rules_are_validated(alice_api, workspace, other_workspace):
    def rule(**body):
        return post(
            alice_api,
            "/api/v3/notifications/rules/",
            {"workspace": workspace.pk, "name": "r", "event": "run.failed", **body},
        )

    assert_error(rule(), 400, "validation_error")  # no channel
    assert_error(rule(channel_kind="email", event="run.exploded"), 400)
    assert_error(rule(channel_kind="email", template="missing"), 400)
    assert_error(rule(channel_kind="email", recipients=["nope"]), 400, "recipient_invalid")
    made = rule(channel_kind="email", recipients=["@alice", "ops@example.com"])
    assert made.status_code == 201, made.content
    assert alice_api.get("/api/v3/notifications/rules/").json()["count"] == 1


def test_quiet_hours_are_times_of_day_as_the_schema_says(alice_api):
    """The fuzzer's finding: the schema said `format: time` (which requires an offset) while
    the API wrote "22:00:00"; and an offset given in the input was silently dropped."""
    schema = alice_api.get(reverse("schema")).json()
    url = "/api/v3/notifications/preferences"
    saved = alice_api.patch(url, {"quiet_hours_start": "22:00:30"}, format="json")
    assert saved.status_code == 200 and saved.json()["quiet_hours_start"] == "22:00:30"
    assert alice_api.patch(url, {"quiet_hours_end": "07:00"}, format="json").status_code == 200
    assert_error(alice_api.patch(url, {"quiet_hours_start": "02:53:21Z"}, format="json"), 400)
    described = schema["components"]["schemas"]["Preference"]["properties"]["quiet_hours_start"]
    assert "time" not in str(described.get("format")) and "pattern" in str(described)
    options = described.get("anyOf", [described])
    pattern = re.compile(next(option["pattern"] for option in options if "pattern" in option))
    assert pattern.match(saved.json()["quiet_hours_start"]) and not pattern.match("02:53:21Z")
