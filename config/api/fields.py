"""Serializer fields every app's API shares."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

MAX_ID = 2**63 - 1  # a bigint: a larger id reaches the database as an error, not as "not found"


class ObjectIdField(serializers.IntegerField):
    """The id of an object in the database: a whole number from 1 to the bigint maximum."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


# A time of day as DRF writes it: "HH:MM:SS", with microseconds when there are any.
TIME_OF_DAY_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


@extend_schema_field({"type": "string", "pattern": TIME_OF_DAY_PATTERN, "example": "22:00"})
class TimeOfDayField(serializers.TimeField):
    """A wall-clock time of day with no time zone: the object names the zone it is read in
    (quiet hours in the user's `timezone`). "22:00" or "22:00:30". Described by its pattern,
    not as JSON Schema's `format: time`, which requires an offset and so did not match what
    DRF writes (the fuzzer's finding); an offset given in the input is refused, not dropped."""

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"])
        super().__init__(**kwargs)


def iso_datetimes():
    """A function writing datetimes as DRF's DateTimeField does (ISO 8601 in the current time
    zone, UTC as "Z"), with the time zone looked up once: for lists written row by row, where
    DRF's per-value lookup was a tenth of the request."""
    zone = timezone.get_current_timezone() if settings.USE_TZ else None

    def write(value: datetime | None) -> str | None:
        if value is None:
            return None
        if zone is None or timezone.is_naive(value):
            return _DATETIME.to_representation(value)
        text = value.astimezone(zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return write


_DATETIME = serializers.DateTimeField()
