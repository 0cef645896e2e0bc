"""Serializer fields every app's API shares."""

from rest_framework import serializers

MAX_ID = 2**63 - 1  # a bigint: a larger id reaches the database as an error, not as "not found"


class ObjectIdField(serializers.IntegerField):
    """The id of an object in the database: a whole number from 1 to the bigint maximum."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)
