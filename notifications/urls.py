"""Notifications under /api/v3/. `router` joins the project's router (list and detail of
notifications, deliveries, channels, templates, rules, inbox); `urlpatterns` holds the verbs
and the brief's paths, with or without a trailing slash (included before the router)."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from notifications import api

router = SimpleRouter()
router.register("notifications/deliveries", api.DeliveryViewSet, basename="notification-delivery")
router.register("notifications/channels", api.ChannelViewSet, basename="notification-channel")
router.register("notifications/templates", api.TemplateViewSet, basename="notification-template")
router.register("notifications/rules", api.RuleViewSet, basename="notification-rule")
router.register("notifications/inbox", api.InboxViewSet, basename="notification-inbox")
router.register(
    "notifications/push-subscriptions",
    api.PushSubscriptionViewSet,
    basename="notification-push-subscription",
)
router.register("notifications", api.NotificationViewSet, basename="notification")


def _path(route: str, view, name: str):
    return re_path(rf"^{route}/?$", view, name=name)


urlpatterns = [
    _path("advanced/notifications/send", api.SendView.as_view(), "notifications-send"),
    _path("advanced/notifications/bulk", api.BulkSendView.as_view(), "notifications-bulk"),
    _path("notifications/preferences", api.PreferencesView.as_view(), "notifications-preferences"),
    _path("notifications/opt-out", api.OptOutView.as_view(), "notifications-opt-out"),
    _path(
        "notifications/push/vapid-public-key",
        api.VapidPublicKeyView.as_view(),
        "notifications-vapid-public-key",
    ),
    _path(
        "notifications/templates/builtins",
        api.TemplateViewSet.as_view({"get": "builtins"}, detail=False),
        "notification-template-builtins",
    ),
    _path(
        "notifications/inbox/unread-count",
        api.InboxViewSet.as_view({"get": "unread_count"}, detail=False),
        "notification-inbox-unread-count",
    ),
    _path(
        "notifications/inbox/read-all",
        api.InboxViewSet.as_view({"post": "read_all"}, detail=False),
        "notification-inbox-read-all",
    ),
    _path(
        r"notifications/inbox/(?P<pk>\d+)/read",
        api.InboxViewSet.as_view({"post": "read"}, detail=True),
        "notification-inbox-read",
    ),
    _path(
        rf"notifications/deliveries/(?P<pk>{api.UUID_PATTERN})/retry",
        api.DeliveryViewSet.as_view({"post": "retry"}, detail=True),
        "notification-delivery-retry",
    ),
]
