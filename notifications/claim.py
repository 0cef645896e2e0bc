# ruff: noqa: S608 - table and column names come from model metadata; values are parameters
"""Claiming a delivery: one conditional UPDATE, so a delivery is sent at most once per
attempt. On PostgreSQL the same statement returns the delivery with its notification and
channel (UPDATE ... FROM ... RETURNING: one round trip on the worker's hot path instead of
three); elsewhere an UPDATE then a SELECT."""

from datetime import datetime

from django.db import connection
from django.db.models import F, Model, Q

from notifications.models import CLAIMABLE, Channel, Delivery, DeliveryStatus, Notification

D, N, C = (m._meta.db_table for m in (Delivery, Notification, Channel))


def _columns(model: type[Model], alias: str) -> tuple[list, str]:
    fields = list(model._meta.concrete_fields)
    return fields, ", ".join(f'{alias}."{f.column}"' for f in fields)


def _build(model: type[Model], fields: list, values: list) -> Model | None:
    if values[0] is None:  # the LEFT JOIN found no channel
        return None
    converted = []
    for field, value in zip(fields, values, strict=True):
        col = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(col) + field.get_db_converters(
            connection
        ):
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def claim(delivery_id: str, *, now: datetime, not_after: datetime) -> Delivery | None:
    """Move the delivery from queued/retrying to sending (attempts + 1) if it is due."""
    if connection.vendor == "postgresql":
        return _claim_returning(delivery_id, now=now, not_after=not_after)
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=CLAIMABLE)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=not_after))
        .update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            sending_at=now,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("notification__channel").get(pk=delivery_id)


def _claim_returning(delivery_id: str, *, now: datetime, not_after: datetime) -> Delivery | None:
    d_fields, d_cols = _columns(Delivery, "d")
    n_fields, n_cols = _columns(Notification, "n")
    c_fields, c_cols = _columns(Channel, "c")
    sql = (
        f'UPDATE "{D}" AS d SET "status" = %s, "attempts" = d."attempts" + 1, '
        f'"sending_at" = %s, "updated_at" = %s '
        f'FROM "{N}" AS n LEFT JOIN "{C}" AS c ON c."id" = n."channel_id" '
        f'WHERE d."id" = %s AND n."id" = d."notification_id" AND d."status" IN (%s, %s) '
        f'AND (d."next_attempt_at" IS NULL OR d."next_attempt_at" <= %s) '
        f"RETURNING {d_cols}, {n_cols}, {c_cols}"
    )
    params = [DeliveryStatus.SENDING, now, now, delivery_id, *CLAIMABLE, not_after]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    row = list(row)
    a, b = len(d_fields), len(d_fields) + len(n_fields)
    delivery = _build(Delivery, d_fields, row[:a])
    notification = _build(Notification, n_fields, row[a:b])
    notification.channel = _build(Channel, c_fields, row[b:])
    delivery.notification = notification
    return delivery
