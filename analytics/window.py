"""What an analytics query is about: a time window and a scope (the caller's workspaces, or
one of them, optionally one workflow), parsed from query parameters once for every endpoint."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.models import Role
from accounts.scoping import Actor, require_role, workspaces_for
from analytics.errors import InvalidQuery
from config.errors import NotFound

TIME_RANGES = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
DEFAULT_TIME_RANGE = "day"
# Windows (and the periods before them that insights compare with) stay far from the
# calendar's ends, where date arithmetic overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    time_range: str | None  # None when since/until were given
    workspace_ids: tuple[int, ...]  # the workspaces in scope (maybe none)
    workflow_id: int | None = None

    @property
    def length(self) -> timedelta:
        return self.until - self.since

    def previous(self) -> "Window":
        """The window of the same length just before this one."""
        return Window(
            since=self.since - self.length,
            until=self.since,
            time_range=self.time_range,
            workspace_ids=self.workspace_ids,
            workflow_id=self.workflow_id,
        )

    def describe(self) -> dict:
        return {
            "since": self.since,
            "until": self.until,
            "time_range": self.time_range,
            "workspaces": list(self.workspace_ids),
            "workflow": self.workflow_id,
        }


def _moment(params, name: str) -> datetime | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:  # well-formed but impossible dates (month 13) raise ValueError
        value = parse_datetime(raw)
        day = parse_date(raw) if value is None and len(raw) == 10 else None
    except ValueError:
        value = day = None
    if value is None:
        if day is None:
            raise InvalidQuery(
                f"{name} must be an ISO 8601 date or date-time.",
                details={name: raw[:100]},
            )
        value = datetime(day.year, day.month, day.day)  # noqa: DTZ001 - made aware below
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def _int_param(params, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidQuery(
            f"{name} must be an integer id.", details={name: str(raw)[:100]}
        ) from None
    if value < 1 or value > 2**63 - 1:
        raise NotFound(f"No such {name}.")
    return value


def parse_window(params, actor: Actor, *, default_range: str = DEFAULT_TIME_RANGE) -> Window:
    """A Window from `time_range` or `since`/`until`, `workspace` and `workflow`. Bad values
    raise InvalidQuery (400); a workspace or workflow the caller cannot see raises NotFound."""
    now = timezone.now()
    time_range = params.get("time_range")
    since, until = _moment(params, "since"), _moment(params, "until")
    if time_range not in (None, "") and time_range not in TIME_RANGES:
        raise InvalidQuery(
            f"Unknown time_range {str(time_range)[:40]!r}; use one of {', '.join(TIME_RANGES)}.",
            details={"time_range": str(time_range)[:100], "allowed": list(TIME_RANGES)},
        )
    until = until or now
    if since is None:
        time_range = time_range or default_range
        try:
            since = until - TIME_RANGES[time_range]
        except OverflowError:  # until at the very start of the calendar
            raise InvalidQuery("until is too early.", details={"until": str(until)}) from None
    else:
        time_range = None
    if since < EARLIEST or until > LATEST:
        raise InvalidQuery(
            f"Dates must fall between {EARLIEST.date()} and {LATEST.date()}.",
            details={"since": since.isoformat(), "until": until.isoformat()},
        )
    if since >= until:
        raise InvalidQuery(
            "since must be before until.",
            details={"since": since.isoformat(), "until": until.isoformat()},
        )
    max_days = settings.ANALYTICS_MAX_RANGE_DAYS
    if until - since > timedelta(days=max_days):
        raise InvalidQuery(
            f"The range is longer than the maximum of {max_days} days.",
            details={"max_days": max_days},
        )
    workspace_id = _int_param(params, "workspace")
    if workspace_id is not None:
        require_role(actor, workspace_id, Role.VIEWER)  # NotFound for non-members
        workspace_ids: tuple[int, ...] = (workspace_id,)
    else:
        workspace_ids = tuple(sorted(workspaces_for(actor).values_list("id", flat=True)))
    workflow_id = _int_param(params, "workflow")
    if workflow_id is not None:
        from workflows.models import Workflow  # analytics reads workflows, never the reverse

        found = Workflow.objects.filter(pk=workflow_id, workspace_id__in=workspace_ids).exists()
        if not found:
            raise NotFound("No such workflow.")
    return Window(
        since=since,
        until=until,
        time_range=time_range,
        workspace_ids=workspace_ids,
        workflow_id=workflow_id,
    )


def system_window(*, since: datetime, until: datetime, workspace_ids) -> Window:
    """A window for code that already knows its scope (the weekly report job)."""
    return Window(since=since, until=until, time_range=None, workspace_ids=tuple(workspace_ids))
