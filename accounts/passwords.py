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
