"""Configured channels (admins): each kind's config and secrets validated, secrets written
through notifications.secrets (encrypted at rest), a webhook's signing secret shown once."""

import secrets as secrets_module

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from notifications import net, vapid
from notifications.channels import push
from notifications.errors import (
    InvalidNotification,
    RecipientInvalid,
)
from notifications.models import (
    Channel,
    ChannelKind,
)
from notifications.recipients import (
    PHONE,
    TOPIC,
)
from notifications.secrets import read_secret, write_secret
from notifications.services.planning import actor_user

# --- Channels ----------------------------------------------------------------------------


def _required(values: dict, name: str, where: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidNotification(
            f"{where}.{name} is required.", details={where: {name: "required"}}
        )
    return value.strip()


def _channel_fields(kind: str, config: dict, secrets: dict) -> tuple[dict, dict, dict]:
    """(config, secrets, shown once) for a channel kind, validated."""
    config, secrets = dict(config or {}), dict(secrets or {})
    shown: dict = {}
    if kind == ChannelKind.EMAIL:
        if config.get("from_email"):
            try:
                validate_email(str(config["from_email"]))
            except ValidationError:
                raise InvalidNotification("config.from_email is not an email address.") from None
        return {k: config[k] for k in ("from_email",) if k in config}, {}, shown
    if kind == ChannelKind.SMS:
        clean = {
            "account_sid": _required(config, "account_sid", "config"),
            "from_number": _required(config, "from_number", "config"),
        }
        if not PHONE.match(clean["from_number"]):
            raise RecipientInvalid("config.from_number is not an E.164 phone number.")
        if config.get("base_url"):
            clean["base_url"] = net.check_url(config["base_url"])
        return clean, {"auth_token": _required(secrets, "auth_token", "secrets")}, shown
    if kind == ChannelKind.PUSH and config.get("provider") == push.WEBPUSH:
        vapid.keys()  # ChannelNotConfigured when the server has no VAPID key
        return {"provider": push.WEBPUSH}, {}, shown
    if kind == ChannelKind.PUSH:
        if config.get("provider", push.NTFY) not in push.PROVIDERS:
            raise InvalidNotification(
                "config.provider must be ntfy or webpush.",
                details={"config": {"provider": list(push.PROVIDERS)}},
            )
        clean = {"server_url": net.check_url(config.get("server_url") or "https://ntfy.sh")}
        topic = _required(config, "topic", "config")
        if not TOPIC.match(topic):
            raise InvalidNotification("config.topic is not an ntfy topic ([A-Za-z0-9_-]).")
        clean["topic"] = topic
        return clean, {"token": secrets["token"]} if secrets.get("token") else {}, shown
    if kind == ChannelKind.WEBHOOK:
        url = net.check_url(_required(config, "url", "config"))
        signing = secrets.get("signing_secret") or "whsec_" + _b64(secrets_module.token_bytes(32))
        try:
            Webhook(signing)
        except Exception:
            raise InvalidNotification(
                "secrets.signing_secret must be a whsec_ secret (base64 after the prefix)."
            ) from None
        shown["signing_secret"] = signing
        return {"url": url}, {"signing_secret": signing}, shown
    if kind in (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.DISCORD):
        url = net.check_url(_required(secrets, "url", "secrets"))
        return {}, {"url": url}, shown
    return {}, {}, shown


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


@transaction.atomic
def create_channel(
    *,
    actor: Actor,
    workspace: Workspace,
    kind: str,
    name: str,
    config: dict | None = None,
    secrets: dict | None = None,
    is_active: bool = True,
    rate_limit_per_minute: int | None = None,
) -> Channel:
    """Admins configure channels. `channel.shown_once` holds the secrets generated for the
    caller (a webhook's signing secret): the one time they are shown."""
    require_role(actor, workspace, Role.ADMIN)
    clean_config, clean_secrets, shown = _channel_fields(kind, config or {}, secrets or {})
    if Channel.objects.filter(workspace=workspace, name=name).exists():
        raise InvalidNotification(
            f"A channel named {name!r} already exists.", code="duplicate_name"
        )
    channel = Channel(
        workspace=workspace,
        kind=kind,
        name=name,
        config=clean_config,
        is_active=is_active,
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=actor_user(actor),
    )
    write_secret(channel, clean_secrets)
    channel.save()
    channel.shown_once = shown
    return channel


@transaction.atomic
def update_channel(
    *,
    actor: Actor,
    channel: Channel,
    name: str | None = None,
    config: dict | None = None,
    secrets: dict | None = None,
    is_active: bool | None = None,
    rate_limit_per_minute: int | None = None,
    rotate_secret: bool = False,
) -> Channel:
    require_role(actor, channel.workspace_id, Role.ADMIN)
    if config is not None or secrets is not None or rotate_secret:
        current = read_secret(channel)
        merged = {**current, **(secrets or {})}
        if rotate_secret:
            merged.pop("signing_secret", None)
        clean_config, clean_secrets, shown = _channel_fields(
            channel.kind, {**channel.config, **(config or {})}, merged
        )
        channel.config = clean_config
        write_secret(channel, clean_secrets)
        channel.shown_once = shown if rotate_secret else {}
    if name is not None:
        if (
            Channel.objects.filter(workspace_id=channel.workspace_id, name=name)
            .exclude(pk=channel.pk)
            .exists()
        ):
            raise InvalidNotification(
                f"A channel named {name!r} already exists.", code="duplicate_name"
            )
        channel.name = name
    if is_active is not None:
        channel.is_active = is_active
    if rate_limit_per_minute is not None:
        channel.rate_limit_per_minute = rate_limit_per_minute or None
    channel.save()
    return channel


@transaction.atomic
def delete_channel(*, actor: Actor, channel: Channel) -> None:
    require_role(actor, channel.workspace_id, Role.ADMIN)
    channel.delete()
