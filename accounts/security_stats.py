"""`GET /api/v3/security/stats`: the security picture of the caller's workspaces (staff: all)
over an hour, day, week or month, counted in the database."""

from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import ApiKey, LoginSession, Membership, TOTPDevice
from accounts.scoping import Actor, workspaces_for
from audit.models import SecurityAlert, SecurityEvent

RANGES = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
    "month": timedelta(days=30),
}
AGE_BUCKETS = [("under_30_days", 30), ("30_to_90_days", 90), ("90_to_365_days", 365)]
USE_BUCKETS = [("last_day", 1), ("last_week", 7), ("last_month", 30)]


def _scope(actor: Actor):
    """(workspace ids, member user ids), or (None, None) for staff: everything."""
    if actor.user.is_staff and actor.api_key is None:
        return None, None
    workspace_ids = list(workspaces_for(actor).values_list("id", flat=True))
    user_ids = set(
        Membership.objects.filter(workspace_id__in=workspace_ids).values_list("user_id", flat=True)
    )
    return workspace_ids, user_ids


def _event_counts(since, workspace_ids, user_ids) -> dict[str, int]:
    events = SecurityEvent.objects.filter(created_at__gte=since)
    if workspace_ids is not None:
        events = events.filter(Q(workspace_id__in=workspace_ids) | Q(user_id__in=user_ids))
    rows = events.values("kind").annotate(total=Sum("count"))
    return {row["kind"]: int(row["total"] or 0) for row in rows}


def _api_keys(now, workspace_ids) -> dict:
    keys = ApiKey.objects.filter(revoked=False)
    if workspace_ids is not None:
        keys = keys.filter(workspace_id__in=workspace_ids)
    keys = keys.exclude(expiry_date__lte=now)
    age, lower = {}, None
    aggregates = {}
    for name, days in AGE_BUCKETS:
        condition = Q(created__gt=now - timedelta(days=days))
        if lower is not None:
            condition &= Q(created__lte=now - timedelta(days=lower))
        aggregates[f"age_{name}"] = Count("pk", filter=condition)
        lower = days
    aggregates["age_over_365_days"] = Count("pk", filter=Q(created__lte=now - timedelta(days=365)))
    aggregates["use_never"] = Count("pk", filter=Q(last_used_at__isnull=True))
    lower = None
    for name, days in USE_BUCKETS:
        condition = Q(last_used_at__gt=now - timedelta(days=days))
        if lower is not None:
            condition &= Q(last_used_at__lte=now - timedelta(days=lower))
        aggregates[f"use_{name}"] = Count("pk", filter=condition)
        lower = days
    aggregates["use_older"] = Count("pk", filter=Q(last_used_at__lte=now - timedelta(days=30)))
    aggregates["active"] = Count("pk")
    totals = keys.aggregate(**aggregates)
    age = {k.removeprefix("age_"): v for k, v in totals.items() if k.startswith("age_")}
    use = {k.removeprefix("use_"): v for k, v in totals.items() if k.startswith("use_")}
    return {"active": totals["active"], "by_age": age, "by_last_use": use}


def stats_for(*, actor: Actor, time_range: str) -> dict:
    now = timezone.now()
    since = now - RANGES[time_range]
    workspace_ids, user_ids = _scope(actor)
    counts = _event_counts(since, workspace_ids, user_ids)

    sessions = LoginSession.objects.filter(revoked_at__isnull=True, expires_at__gt=now)
    members = Membership.objects.all()
    alerts = SecurityAlert.objects.filter(status="open")
    if workspace_ids is not None:
        sessions = sessions.filter(user_id__in=user_ids)
        members = members.filter(workspace_id__in=workspace_ids)
        alerts = alerts.filter(Q(workspace_id__in=workspace_ids) | Q(user_id__in=user_ids))
    member_ids = set(members.values_list("user_id", flat=True))
    with_mfa = TOTPDevice.objects.filter(user_id__in=member_ids, confirmed=True).count()

    return {
        "time_range": time_range,
        "since": since,
        "scope": "all" if workspace_ids is None else {"workspaces": workspace_ids},
        "logins": {
            "succeeded": counts.get("auth.login_succeeded", 0),
            "failed": counts.get("auth.login_failed", 0),
            "mfa_failed": counts.get("mfa.failed", 0),
        },
        "lockouts": counts.get("auth.locked_out", 0),
        "rate_limited_requests": counts.get("access.rate_limited", 0),
        "sessions": {
            "active": sessions.count(),
            "revoked_in_range": LoginSession.objects.filter(
                revoked_at__gte=since,
                **({} if user_ids is None else {"user_id__in": user_ids}),
            ).count(),
        },
        "mfa": {
            "members": len(member_ids),
            "enabled": with_mfa,
            "adoption": round(with_mfa / len(member_ids), 4) if member_ids else 0.0,
        },
        "api_keys": _api_keys(now, workspace_ids),
        "open_alerts": alerts.count(),
        "events": counts,
    }
