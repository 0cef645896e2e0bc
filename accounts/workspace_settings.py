"""Checks other apps contribute for WorkspaceSettings fields whose valid values they own
(accounts may not import them: every app depends on accounts, never the reverse).

An app registers in its AppConfig.ready(): `register_validator("default_parameters", fn)`,
where `fn(value)` returns the value to store or raises django's ValidationError.
"""

from collections.abc import Callable
from typing import Any

_validators: dict[str, list[Callable[[Any], Any]]] = {}


def register_validator(field: str, validator: Callable[[Any], Any]) -> None:
    if validator not in _validators.setdefault(field, []):
        _validators[field].append(validator)


def clean(field: str, value: Any) -> Any:
    for validator in _validators.get(field, []):
        value = validator(value)
    return value
