# ruff: noqa: S608 - table and column names come from model metadata; values are parameters
"""Claiming deliveries: one conditional UPDATE, so a delivery is sent at most once per
attempt. On PostgreSQL the same statement returns the deliveries with their notification and
channel (UPDATE ... FROM ... RETURNING: one round trip on the worker's hot path instead of
three, for one delivery or a batch); elsewhere an UPDATE then a SELECT per delivery."""

from datetime import datetime

from django.db import connection
from django.db.models import F, Model, Q

from notifications.models import CLAIMABLE, Channel, Delivery, DeliveryStatus, Notification

D, N, C = (m._meta.db_table for m in (Delivery, Notification, Channel))


def _columns(model: type[Model], alias: str) -> tuple[list, str]:
    fields = list(model._meta.concrete_fields)
    return fields, ", ".join(f'{alias}."{f.column}"' for f in fields)


_CONVERTERS: dict = {}


def _converters(model: type[Model], fields: list) -> list:
    """Each field's database converters (backend's and field's), worked out once per model and
    connection: the claim builds three models per delivery on the hot path."""
    key = (model, id(connection.ops))  # per connection object: threads have their own
    if key not in _CONVERTERS:
        found = []
        for field in fields:
            col = field.get_col(model._meta.db_table)
            found.append(
                (col, connection.ops.get_db_converters(col) + field.get_db_converters(connection))
            )
        _CONVERTERS[key] = found
    return _CONVERTERS[key]


def _build(model: type[Model], fields: list, values) -> Model | None:
    if values[0] is None:  # the LEFT JOIN found no channel
        return None
    converted = []
    for (col, converters), value in zip(_converters(model, fields), values, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        converted.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


def claim(delivery_id: str, *, now: datetime, not_after: datetime) -> Delivery | None:
    """Move the delivery from queued/retrying to sending (attempts + 1) if it is due."""
    if connection.vendor == "postgresql":
        found = _claim_returning([delivery_id], now=now, not_after=not_after)
        return found[0] if found else None
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


def claim_many(delivery_ids: list[str], *, now: datetime, not_after: datetime) -> list[Delivery]:
    """`claim` for a batch: the deliveries among `delivery_ids` that were due and unclaimed,
    now `sending` (one statement on PostgreSQL), in the order given."""
    if connection.vendor == "postgresql":
        found = {str(d.pk): d for d in _claim_returning(delivery_ids, now=now, not_after=not_after)}
    else:
        found = {}
        for delivery_id in delivery_ids:
            if (delivery := claim(delivery_id, now=now, not_after=not_after)) is not None:
                found[str(delivery.pk)] = delivery
    return [found[i] for i in map(str, delivery_ids) if i in found]


def _claim_returning(delivery_ids: list[str], *, now: datetime, not_after: datetime) -> list:
    d_fields, d_cols = _columns(Delivery, "d")
    n_fields, n_cols = _columns(Notification, "n")
    c_fields, c_cols = _columns(Channel, "c")
    sql = (
        f'UPDATE "{D}" AS d SET "status" = %s, "attempts" = d."attempts" + 1, '
        f'"sending_at" = %s, "updated_at" = %s '
        f'FROM "{N}" AS n LEFT JOIN "{C}" AS c ON c."id" = n."channel_id" '
        f'WHERE d."id" = ANY(%s::uuid[]) AND n."id" = d."notification_id" '
        f'AND d."status" IN (%s, %s) '
        f'AND (d."next_attempt_at" IS NULL OR d."next_attempt_at" <= %s) '
        f"RETURNING {d_cols}, {n_cols}, {c_cols}"
    )
    ids = [str(i) for i in delivery_ids]
    params = [DeliveryStatus.SENDING, now, now, ids, *CLAIMABLE, not_after]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    a, b = len(d_fields), len(d_fields) + len(n_fields)
    claimed = []
    for row in rows:
        delivery = _build(Delivery, d_fields, row[:a])
        notification = _build(Notification, n_fields, row[a:b])
        notification.channel = _build(Channel, c_fields, row[b:])
        delivery.notification = notification
        claimed.append(delivery)
    return claimed
