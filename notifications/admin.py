import copy

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from config.errors import DomainError
from notifications import services
from notifications.errors import DeliveryNotRetryable
from notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    InboxItem,
    Notification,
    NotificationTemplate,
    Preference,
    PushSubscription,
    Rule,
)


def checked_form(form_class, check):
    """The admin's form for a model whose API writes go through a service: staff edit any
    workspace's rows here (no workspace role), and the service's own check turns its domain
    error into a form error instead of a server error."""

    class Checked(form_class):
        def clean(self):
            cleaned = super().clean()
            candidate = copy.copy(self.instance)
            for name, value in cleaned.items():
                if name in {f.name for f in candidate._meta.concrete_fields}:
                    setattr(candidate, name, value)
            try:
                check(candidate)
            except DomainError as exc:
                raise ValidationError(exc.message) from exc
            return cleaned

    return Checked


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "workspace", "is_active", "rate_limit_per_minute", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    exclude = ["secret"]  # secrets are set through the API; never shown


@admin.register(NotificationTemplate)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["key", "channel", "workspace", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["key", "subject"]

    def get_form(self, request, obj=None, **kwargs):
        from notifications.services.templates import check_template

        return checked_form(super().get_form(request, obj, **kwargs), check_template)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["name", "event", "channel_kind", "workspace", "is_active"]
    list_filter = ["event", "channel_kind", "is_active"]
    search_fields = ["name"]

    def get_form(self, request, obj=None, **kwargs):
        from notifications.services.rule_config import check_rule

        return checked_form(
            super().get_form(request, obj, **kwargs),
            lambda rule: check_rule(rule, kind_given=True),
        )


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    fields = ["channel_kind", "recipient", "status", "attempts", "provider_status", "error"]
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "channel_kind", "subject", "event", "priority", "workspace", "created_at"]
    list_filter = ["channel_kind", "event", "priority"]
    search_fields = ["subject", "message"]
    inlines = [DeliveryInline]
    readonly_fields = [f.name for f in Notification._meta.fields]


@admin.action(description="Retry the selected failed deliveries")
def retry_deliveries(modeladmin, request, queryset):
    retried = 0
    for delivery in queryset.filter(status=DeliveryStatus.FAILED).select_related("notification"):
        try:
            services.retry_delivery(actor=None, delivery=delivery)
            retried += 1
        except DeliveryNotRetryable:
            continue
    modeladmin.message_user(request, f"{retried} deliveries queued again.", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "channel_kind",
        "recipient",
        "status",
        "attempts",
        "provider_status",
        "created_at",
    ]
    list_filter = ["status", "channel_kind"]
    search_fields = ["recipient", "error"]
    actions = [retry_deliveries]
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "timezone", "quiet_hours_start", "quiet_hours_end"]


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ["user", "subject", "workspace", "read_at", "created_at"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers' Web Push subscriptions: seen and removed here, registered by the browsers."""

    list_display = ["user", "endpoint", "created_at", "last_success_at"]
    exclude = ["auth"]  # the browser's secret
    readonly_fields = ["user", "endpoint", "p256dh", "user_agent", "created_at", "last_success_at"]

    def has_add_permission(self, request):
        return False
