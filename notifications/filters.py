import django_filters

from config.api.filters import FilterSet
from notifications.models import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    EventType,
    InboxItem,
    Notification,
    Priority,
)


class NotificationFilter(FilterSet):
    channel = django_filters.MultipleChoiceFilter(
        field_name="channel_kind", choices=ChannelKind.choices
    )
    event = django_filters.MultipleChoiceFilter(choices=EventType.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Notification
        fields = ["channel", "event", "priority", "workspace", "rule"]


class DeliveryFilter(FilterSet):
    channel = django_filters.MultipleChoiceFilter(
        field_name="channel_kind", choices=ChannelKind.choices
    )
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    recipient = django_filters.CharFilter(lookup_expr="icontains")
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields = ["channel", "status", "recipient", "workspace", "notification"]


class InboxFilter(FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")

    class Meta:
        model = InboxItem
        fields = ["unread", "workspace"]
