"""Notifications API: send and bulk under /api/v3/advanced/notifications/, history,
deliveries, channels, templates, rules, preferences and the inbox under
/api/v3/notifications/."""

from django.db.models import Prefetch, prefetch_related_objects
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.scoping import Actor
from accounts.viewsets import WorkspaceScopedModelViewSet, WorkspaceScopedViewSet
from notifications import selectors, services, vapid
from notifications.errors import ChannelNotConfigured, InvalidNotification, WebPushUnavailable
from notifications.filters import DeliveryFilter, InboxFilter, NotificationFilter
from notifications.models import (
    Channel,
    Delivery,
    InboxItem,
    Notification,
    NotificationTemplate,
    Preference,
    PushSubscription,
    Rule,
)
from notifications.optout import read_token
from notifications.serializers import (
    BulkSendSerializer,
    ChannelCreatedSerializer,
    ChannelSerializer,
    ChannelUpdateSerializer,
    ChannelWriteSerializer,
    DeliverySerializer,
    InboxItemSerializer,
    NotificationSerializer,
    PreferenceSerializer,
    PushSubscriptionSerializer,
    PushSubscriptionWriteSerializer,
    RuleSerializer,
    SendSerializer,
    TemplateSerializer,
)

UUID_PATTERN = "[0-9a-fA-F-]{32,36}"


def _with_deliveries(notifications: list[Notification]) -> list[dict]:
    """The notifications with their deliveries, serialized in one pass: the rows a send just
    wrote are used as they are (no query); an idempotent repeat's are read, oldest first."""
    earlier = []
    for notification in notifications:
        rows = getattr(notification, "delivery_rows", None)
        if rows is None:
            earlier.append(notification)
        else:
            notification._prefetched_objects_cache = {"deliveries": rows}
    if earlier:
        prefetch_related_objects(
            earlier, Prefetch("deliveries", queryset=Delivery.objects.order_by("created_at"))
        )
    return NotificationSerializer(notifications, many=True).data


class SendView(APIView):
    """Send one notification (the brief's body, or a template and context) to one or many
    recipients: 202 with the notification and its queued deliveries."""

    @extend_schema(request=SendSerializer, responses={202: NotificationSerializer})
    def post(self, request):
        data = SendSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        notification = services.send_notification(
            actor=Actor.from_request(request),
            workspace=data.validated_data["workspace"],
            **SendSerializer.service_fields(data.validated_data),
        )
        return Response(_with_deliveries([notification])[0], status=status.HTTP_202_ACCEPTED)


class BulkSendView(APIView):
    """Send up to NOTIFICATIONS_BULK_LIMIT notifications, all or nothing (a bad item is named
    by its index and nothing is sent)."""

    @extend_schema(
        request=BulkSendSerializer,
        responses={
            202: inline_serializer("BulkSent", {"notifications": NotificationSerializer(many=True)})
        },
    )
    def post(self, request):
        data = BulkSendSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        sent = services.bulk_send(
            actor=Actor.from_request(request),
            workspace=data.validated_data["workspace"],
            items=data.validated_data["notifications"],
        )
        return Response(
            {"notifications": _with_deliveries(sent)},
            status=status.HTTP_202_ACCEPTED,
        )


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """What was sent in the caller's workspaces, with each notification's deliveries."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ["created_at"]
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return selectors.notifications_for(self.actor)


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """One row per recipient and channel: status, attempts, provider answer, timestamps.
    Filters: channel, status, recipient, since, until, notification."""

    queryset = Delivery.objects.all()
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    ordering_fields = ["created_at", "updated_at", "attempts"]
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        return selectors.deliveries_for(self.actor)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def retry(self, request, pk=None):
        delivery = services.retry_delivery(actor=self.actor, delivery=self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class ChannelViewSet(WorkspaceScopedModelViewSet):
    """Configured channels. Secrets are write-only (masked in answers); a webhook's signing
    secret is generated and shown once, in the answer that creates (or rotates) it."""

    queryset = Channel.objects.all()
    serializer_class = ChannelSerializer
    filterset_fields = ["kind", "is_active", "workspace"]
    ordering_fields = ["name", "created_at"]

    def get_serializer_class(self):
        if self.action == "create":
            return ChannelWriteSerializer
        if self.action in ("update", "partial_update"):
            return ChannelUpdateSerializer
        return ChannelSerializer

    @extend_schema(request=ChannelWriteSerializer, responses={201: ChannelCreatedSerializer})
    def create(self, request, *args, **kwargs):
        data = ChannelWriteSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        channel = services.create_channel(actor=self.actor, **data.validated_data)
        return Response(ChannelCreatedSerializer(channel).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ChannelUpdateSerializer, responses={200: ChannelCreatedSerializer})
    def update(self, request, *args, **kwargs):
        channel = self.get_object()
        data = ChannelUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        channel = services.update_channel(actor=self.actor, channel=channel, **data.validated_data)
        return Response(ChannelCreatedSerializer(channel).data)

    @extend_schema(request=ChannelUpdateSerializer, responses={200: ChannelCreatedSerializer})
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance):
        services.delete_channel(actor=self.actor, channel=instance)


class _ServiceWritesMixin:
    """create / update / destroy through the app's services: the serializer parses, the
    service checks roles and invariants in one transaction, the answer renders the row."""

    create_service = update_service = delete_service = staticmethod(lambda **kw: None)
    service_object = "object"  # the keyword the update and delete services take

    def create(self, request, *args, **kwargs):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = type(self).create_service(actor=self.actor, **data.validated_data)
        return Response(self.get_serializer(row).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        row = self.get_object()
        data = self.get_serializer(row, data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("workspace", None)  # it stays in its workspace
        row = type(self).update_service(actor=self.actor, **{self.service_object: row}, **fields)
        return Response(self.get_serializer(row).data)

    def perform_destroy(self, instance):
        type(self).delete_service(actor=self.actor, **{self.service_object: instance})


class TemplateViewSet(_ServiceWritesMixin, WorkspaceScopedModelViewSet):
    """Workspace templates (subject, text body, HTML body for email) in the sandboxed template
    language; they override the built-ins under the same key."""

    queryset = NotificationTemplate.objects.all()
    serializer_class = TemplateSerializer
    filterset_fields = ["key", "channel", "workspace"]
    ordering_fields = ["key", "created_at"]
    create_service = staticmethod(services.create_template)
    update_service = staticmethod(services.update_template)
    delete_service = staticmethod(services.delete_template)
    service_object = "template"

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def builtins(self, request):
        from notifications.defaults import DEFAULT_TEMPLATES

        return Response({"templates": DEFAULT_TEMPLATES})


class RuleViewSet(_ServiceWritesMixin, WorkspaceScopedModelViewSet):
    """When an event happens in the workspace, notify recipients on a channel."""

    queryset = Rule.objects.select_related("channel")
    serializer_class = RuleSerializer
    filterset_fields = ["event", "channel_kind", "is_active", "workspace"]
    ordering_fields = ["name", "created_at"]
    create_service = staticmethod(services.create_rule)
    update_service = staticmethod(services.update_rule)
    delete_service = staticmethod(services.delete_rule)
    service_object = "rule"


class PreferencesView(APIView):
    """My notification preferences: channels per event type, quiet hours, phone number."""

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request):
        preference = Preference.objects.filter(user=request.user).first() or Preference(
            user=request.user
        )
        return Response(PreferenceSerializer(preference).data)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def put(self, request):
        return self._write(request, partial=False)

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    def patch(self, request):
        return self._write(request, partial=True)

    def _write(self, request, *, partial):
        data = PreferenceSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        preference = services.update_preferences(user=request.user, **data.validated_data)
        return Response(PreferenceSerializer(preference).data)


class InboxViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """My in-app notifications, newest first (`?unread=true` for the unread ones)."""

    queryset = InboxItem.objects.none()  # the schema's model; requests read their own inbox
    serializer_class = InboxItemSerializer
    filterset_class = InboxFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return InboxItem.objects.none()
        return selectors.inbox_for(Actor.from_request(self.request))

    @extend_schema(
        responses=inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})
    )
    def unread_count(self, request):
        return Response({"unread": selectors.unread_count(Actor.from_request(request))})

    @extend_schema(request=None, responses=InboxItemSerializer)
    def read(self, request, pk=None):
        item = self.get_object()
        return Response(InboxItemSerializer(services.mark_read(user=request.user, item=item)).data)

    @extend_schema(
        request=None, responses=inline_serializer("ReadAll", {"marked": serializers.IntegerField()})
    )
    def read_all(self, request):
        actor = Actor.from_request(request)
        workspace_id = actor.api_key.workspace_id if actor.api_key else None
        return Response(
            {"marked": services.mark_all_read(user=request.user, workspace_id=workspace_id)}
        )


class OptOutView(APIView):
    """The link in every email: stops the workspace's email to that address."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True)],
        request=None,
        responses=inline_serializer(
            "OptedOut",
            {"opted_out": serializers.BooleanField(), "address": serializers.CharField()},
        ),
    )
    def get(self, request):
        parsed = read_token(request.query_params.get("token", ""))
        if parsed is None:
            raise InvalidNotification("The opt-out link is not valid.", code="invalid_token")
        workspace_id, address = parsed
        services.opt_out(workspace_id=workspace_id, address=address)
        return Response({"opted_out": True, "address": address})

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True)],
        request=None,
        responses=inline_serializer(
            "OptedOutPost",
            {"opted_out": serializers.BooleanField(), "address": serializers.CharField()},
        ),
    )
    def post(self, request):  # RFC 8058 one-click unsubscribe
        return self.get(request)


class PushSubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """My browsers' Web Push subscriptions: register the browser's
    `PushSubscription.toJSON()` (201, or 200 when that endpoint was already mine: its keys are
    refreshed), list and remove them. Nobody sees another user's (404)."""

    queryset = PushSubscription.objects.none()  # the schema's model; requests read their own
    serializer_class = PushSubscriptionSerializer
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PushSubscription.objects.none()
        return selectors.push_subscriptions_for(Actor.from_request(self.request))

    @extend_schema(
        request=PushSubscriptionWriteSerializer,
        responses={201: PushSubscriptionSerializer, 200: PushSubscriptionSerializer},
    )
    def create(self, request):
        data = PushSubscriptionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.subscribe_push(
            user=request.user,
            endpoint=data.validated_data["endpoint"],
            keys=dict(data.validated_data["keys"]),
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(
            PushSubscriptionSerializer(subscription).data,
            status=status.HTTP_201_CREATED if subscription.created_now else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance):
        services.unsubscribe_push(user=self.request.user, subscription=instance)


class VapidPublicKeyView(APIView):
    """The server's VAPID public key, for `pushManager.subscribe({applicationServerKey})`;
    404 `webpush_not_configured` when the server has no (valid) key pair."""

    @extend_schema(
        responses=inline_serializer("VapidPublicKey", {"public_key": serializers.CharField()})
    )
    def get(self, request):
        try:
            return Response({"public_key": vapid.public_key()})
        except ChannelNotConfigured as exc:
            raise WebPushUnavailable(exc.message) from exc
