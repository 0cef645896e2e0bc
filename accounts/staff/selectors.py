"""Staff reads of users: every account (staff see them all), with what the list shows."""

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import TOTPDevice, User
from config.api.filters import FilterSet, IdFilter


def users_for_staff() -> QuerySet[User]:
    return User.objects.annotate(
        mfa_enabled=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
    ).order_by("id")


def search_users(queryset: QuerySet[User], text: str) -> QuerySet[User]:
    return queryset.filter(
        Q(username__icontains=text) | Q(email__icontains=text) | Q(display_name__icontains=text)
    )


class UserFilter(FilterSet):
    q = django_filters.CharFilter(method="search", max_length=200, label="Search")
    workspace = IdFilter(field_name="memberships__workspace_id")

    class Meta:
        model = User
        fields = ["is_active", "is_staff", "workspace"]

    def search(self, queryset, name, value):
        return search_users(queryset, value)
