"""Strength rules on top of Django's validators (length, common list, similarity, numeric)."""

import string

from django.core.exceptions import ValidationError

CHARACTER_CLASSES = {
    "lowercase letters": set(string.ascii_lowercase),
    "uppercase letters": set(string.ascii_uppercase),
    "digits": set(string.digits),
    "symbols": set(string.punctuation + " "),
}


class CharacterClassValidator:
    """Require characters from at least `min_classes` of: lower, upper, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password: str, user=None) -> None:
        present = [name for name, chars in CHARACTER_CLASSES.items() if chars & set(password)]
        if len(present) < self.min_classes:
            missing = [name for name in CHARACTER_CLASSES if name not in present]
            raise ValidationError(
                "This password mixes too few kinds of characters: use at least %(n)d of "
                "lowercase letters, uppercase letters, digits and symbols (missing: %(missing)s).",
                code="password_too_simple",
                params={"n": self.min_classes, "missing": ", ".join(missing)},
            )

    def get_help_text(self) -> str:
        return (
            f"Your password must use at least {self.min_classes} of: lowercase letters, "
            "uppercase letters, digits, symbols."
        )


# --- the password verbs: strength report, change, reset ------------------------------------
def _policy_validators(user) -> list:
    """Django's configured validators, plus the strictest workspace minimum length."""
    from django.contrib.auth.password_validation import (  # noqa: PLC0415
        MinimumLengthValidator,
        get_default_password_validators,
    )

    from accounts import policies  # noqa: PLC0415

    validators = list(get_default_password_validators())
    required = policies.effective_for_user(getattr(user, "pk", None)).min_password_length
    if required and required > min_length_of(validators):
        validators.append(MinimumLengthValidator(min_length=required))
    return validators


def min_length_of(validators) -> int:
    lengths = [getattr(v, "min_length", 0) for v in validators]
    return max(lengths, default=0)


def failing_rules(password: str, user=None) -> list[dict]:
    """Every rule the password breaks, each as {"code", "message"} (none: it is accepted)."""
    failures = []
    for validator in _policy_validators(user):
        try:
            validator.validate(password, user)
        except ValidationError as error:
            for item in error.error_list:
                failures.append({"code": item.code or "invalid", "message": item.messages[0]})
    return failures


def check(password: str, user=None) -> None:
    """Raise a ValidationError naming every failing rule (reported on `new_password`)."""
    failures = failing_rules(password, user)
    if failures:
        raise ValidationError({"new_password": [f["message"] for f in failures]})


STRENGTH_LABELS = ["very weak", "weak", "fair", "good", "strong"]


def report(password: str, user=None) -> dict:
    """The brief's "security validation": strength and every failing rule, nothing saved."""
    failures = failing_rules(password, user)
    classes = sum(1 for chars in CHARACTER_CLASSES.values() if chars & set(password))
    score = min(4, len(password) // 4) if password else 0
    score = min(score, classes)
    if failures:
        score = min(score, 1)
    return {
        "valid": not failures,
        "score": score,
        "strength": STRENGTH_LABELS[score],
        "length": len(password),
        "min_length": min_length_of(_policy_validators(user)),
        "errors": failures,
    }
