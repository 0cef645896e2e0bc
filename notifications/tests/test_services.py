"""Template and rule writes go through the services: roles checked there, one transaction,
the domain errors in the API's error shape; the API's create / update / delete call them and
the admin's forms use the same checks."""

import pytest

from accounts.models import Role
from accounts.scoping import Actor
from config.errors import DomainError
from config.testing import assert_error
from notifications import services
from notifications.models import Channel, NotificationTemplate, Rule

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v3/notifications/templates/"
RULES = "/api/v3/notifications/rules/"


def test_template_services_check_role_source_and_uniqueness(user, workspace, other_user,
                                                            add_member):  # fmt: skip
    made = services.create_template(
        actor=Actor(user), workspace=workspace, key="hello", body="Hi {{ name }}"
    )
    assert (made.channel, made.subject) == ("any", "")
    with pytest.raises(DomainError) as clash:
        services.create_template(actor=Actor(user), workspace=workspace, key="hello", body="x")
    assert clash.value.code == "validation_error" and "already exists" in clash.value.message
    with pytest.raises(DomainError) as bad:
        services.update_template(actor=Actor(user), template=made, body="{% load static %}")
    assert bad.value.code == "template_invalid"
    assert NotificationTemplate.objects.get(pk=made.pk).body == "Hi {{ name }}"

    add_member(workspace, other_user, Role.VIEWER)
    with pytest.raises(DomainError) as viewer:
        services.update_template(actor=Actor(other_user), template=made, body="mine")
    assert viewer.value.status_code == 403
    services.delete_template(actor=Actor(user), template=made)
    assert not NotificationTemplate.objects.exists()


def test_templates_through_the_api(alice_api, client_for, workspace, other_user, add_member):
    made = alice_api.post(
        TEMPLATES, {"workspace": workspace.pk, "key": "k", "channel": "email", "body": "b"},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    url = f"{TEMPLATES}{made.json()['id']}/"
    again = alice_api.post(
        TEMPLATES, {"workspace": workspace.pk, "key": "k", "channel": "email", "body": "c"},
        format="json",
    )  # fmt: skip
    assert_error(again, 400, "validation_error")
    patched = alice_api.patch(url, {"subject": "S {{ x }}"}, format="json")
    assert patched.status_code == 200 and patched.json()["subject"] == "S {{ x }}"
    assert_error(alice_api.patch(url, {"body": "{% if %}"}, format="json"), 400, "template_invalid")
    add_member(workspace, other_user, Role.VIEWER)
    assert_error(client_for(other_user).patch(url, {"body": "x"}, format="json"), 403)
    assert alice_api.delete(url).status_code == 204


def test_rule_services_check_what_the_rule_names(user, workspace, other_workspace):
    theirs = Channel.objects.create(workspace=other_workspace, kind="email", name="theirs")
    with pytest.raises(DomainError, match="No channel with that id"):
        services.create_rule(
            actor=Actor(user), workspace=workspace, name="r", event="run.failed", channel=theirs
        )
    ours = Channel.objects.create(workspace=workspace, kind="slack", name="ours")
    with pytest.raises(DomainError, match="is a slack channel"):
        services.create_rule(actor=Actor(user), workspace=workspace, name="r",
                             event="run.failed", channel=ours, channel_kind="email")  # fmt: skip
    rule = services.create_rule(
        actor=Actor(user), workspace=workspace, name="r", event="run.failed", channel=ours
    )
    assert rule.channel_kind == "slack" and rule.created_by == user
    with pytest.raises(DomainError, match="Unknown event"):
        services.update_rule(actor=Actor(user), rule=rule, event="run.exploded")
    updated = services.update_rule(
        actor=Actor(user), rule=rule, channel=None, channel_kind="in_app", recipients=["@alice"]
    )
    assert (updated.channel_id, updated.channel_kind) == (None, "in_app")
    assert Rule.objects.get(pk=rule.pk).recipients == ["@alice"]


def test_rules_through_the_api(alice_api, client_for, workspace, other_user, add_member):
    made = alice_api.post(
        RULES, {"workspace": workspace.pk, "name": "r", "event": "run.failed",
                "channel_kind": "in_app"}, format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    url = f"{RULES}{made.json()['id']}/"
    assert_error(alice_api.patch(url, {"template": "missing"}, format="json"), 400)
    assert_error(
        alice_api.patch(url, {"recipients": ["user:999999"]}, format="json"),
        400,
        "recipient_invalid",
    )
    patched = alice_api.patch(url, {"priority": "high", "is_active": False}, format="json")
    assert patched.status_code == 200
    assert (patched.json()["priority"], patched.json()["is_active"]) == ("high", False)
    add_member(workspace, other_user, Role.VIEWER)
    assert_error(client_for(other_user).delete(url), 403)
    assert alice_api.delete(url).status_code == 204
    assert not Rule.objects.exists()


@pytest.fixture
def staff_client(user):
    from django.test import Client

    from accounts.models import User

    User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def test_the_admin_form_uses_the_services_checks(workspace, staff_client):
    NotificationTemplate.objects.create(workspace=workspace, key="k", body="b")
    response = staff_client.post(
        "/admin/notifications/notificationtemplate/add/",
        {"workspace": workspace.pk, "key": "k", "channel": "any", "body": "again"},
    )
    assert response.status_code == 200  # the form again, with the error; no server error
    assert "already exists" in response.content.decode()
    assert NotificationTemplate.objects.count() == 1


def test_a_rule_naming_another_workspaces_channel_or_workflow_reads_as_missing(
    alice_api, workspace, other_workspace, other_user
):
    """Another workspace's channel or workflow id gets the answer a missing id gets: the
    error does not tell an outsider that the id exists."""
    from workflows.models import Workflow

    theirs = {
        "channel": Channel.objects.create(workspace=other_workspace, kind="email", name="t").pk,
        "workflow": Workflow.objects.create(
            workspace=other_workspace, name="theirs", created_by=other_user
        ).pk,
    }
    for field, their_id in theirs.items():
        answers = []
        for value in (their_id, 10**9):
            body = {"workspace": workspace.pk, "name": "r", "event": "run.failed",
                    "channel_kind": "email", field: value}  # fmt: skip
            error = assert_error(alice_api.post(RULES, body, format="json"), 400)
            answers.append(error["details"][field][0].replace(str(value), "<id>"))
        assert answers[0] == answers[1], (field, answers)
    assert not Rule.objects.exists()
