"""Reads, scoped to what the caller may see."""

from django.db.models import Prefetch, QuerySet

from accounts.scoping import Actor, scope_to_workspaces
from notifications.models import Delivery, InboxItem, Notification, PushSubscription


def notifications_for(actor: Actor) -> QuerySet[Notification]:
    return scope_to_workspaces(Notification.objects.all(), actor).prefetch_related(
        Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at"))
    )


def deliveries_for(actor: Actor) -> QuerySet[Delivery]:
    return scope_to_workspaces(Delivery.objects.select_related("notification"), actor)


def deliveries_in_workspaces(workspace_ids) -> QuerySet[Delivery]:
    """Deliveries of the given workspaces (for analytics, which scopes the ids itself)."""
    return Delivery.objects.filter(workspace_id__in=workspace_ids)


def inbox_for(actor: Actor) -> QuerySet[InboxItem]:
    """The caller's own in-app notifications (an API key: its workspace's only)."""
    items = InboxItem.objects.filter(user=actor.user)
    if actor.api_key is not None:
        items = items.filter(workspace_id=actor.api_key.workspace_id)
    return items


def unread_count(actor: Actor) -> int:
    return inbox_for(actor).filter(read_at__isnull=True).count()


def push_subscriptions_for(actor: Actor) -> QuerySet[PushSubscription]:
    """The caller's own browser subscriptions (nobody sees another user's)."""
    return PushSubscription.objects.filter(user=actor.user)
