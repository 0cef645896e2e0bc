"""Two-factor authentication: TOTP (django-otp's algorithm and back-off, our device with an
encrypted key), 10 single-use recovery codes stored hashed, and the short-lived `mfa_token`
that stands between a correct password and the tokens of a user with MFA on.

Nothing here logs or stores a code or a secret in the clear.
"""

import hashlib
import secrets
import time
from base64 import b32decode, b32encode
from dataclasses import dataclass

import segno
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_otp.oath import TOTP

from accounts.errors import (
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaThrottled,
    MfaTokenExpired,
    MfaTokenInvalid,
    WrongPassword,
)
from accounts.models import RecoveryCode, TOTPDevice, User
from audit.services import record_security_event

RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_MFA_TOKEN_SALT = "accounts.mfa.login"
TOTP_STEP, TOTP_DIGITS = 30, 6


# --- TOTP ----------------------------------------------------------------------------------
def _totp(device: TOTPDevice) -> TOTP:
    return TOTP(b32decode(device.secret), step=TOTP_STEP, digits=TOTP_DIGITS)


def has_mfa(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


@transaction.atomic
def begin_totp(*, user: User) -> Enrolment:
    """A new secret for the user (replacing an unconfirmed one); on until `confirm_totp`."""
    existing = TOTPDevice.objects.select_for_update().filter(user=user).first()
    if existing is not None and existing.confirmed:
        raise MfaAlreadyEnabled()
    secret = b32encode(secrets.token_bytes(20)).decode()
    if existing is None:
        TOTPDevice.objects.create(user=user, name="authenticator", secret=secret, confirmed=False)
    else:
        existing.secret, existing.last_t = secret, -1
        existing.save(update_fields=["secret", "last_t"])
    issuer = settings.MFA_ISSUER
    uri = (
        f"otpauth://totp/{_quote(issuer)}:{_quote(user.get_username())}"
        f"?secret={secret}&issuer={_quote(issuer)}&digits={TOTP_DIGITS}&period={TOTP_STEP}"
    )
    svg = segno.make(uri, error="m").svg_inline(scale=4)
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=svg)


def _quote(value: str) -> str:
    from urllib.parse import quote  # noqa: PLC0415

    return quote(value, safe="")


def _require_not_throttled(device: TOTPDevice) -> None:
    allowed, info = device.verify_is_allowed()
    if not allowed:
        locked_until = (info or {}).get("locked_until")
        wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
        raise MfaThrottled(retry_after=max(1, wait))


def _settle(device: TOTPDevice, verified: bool) -> None:
    if verified:
        device.last_used_at = timezone.now()
        device.throttle_reset(commit=False)
        device.save()
    else:
        device.throttle_increment(commit=True)


def _check_totp(device: TOTPDevice, code: str) -> bool:
    """Verify under the row lock: a code's time step must be newer than the last accepted one
    (replay refused), with one step of clock drift either way; failures back off."""
    _require_not_throttled(device)
    code = (code or "").strip().replace(" ", "")
    verified = False
    if code.isdigit() and len(code) == TOTP_DIGITS:
        totp = _totp(device)
        totp.time = time.time()
        verified = totp.verify(int(code), tolerance=1, min_t=device.last_t + 1)
        if verified:
            device.last_t = totp.t()
    _settle(device, verified)
    return verified


def _locked_device(user: User, *, confirmed: bool | None = True) -> TOTPDevice:
    devices = TOTPDevice.objects.select_for_update().filter(user=user)
    if confirmed is not None:
        devices = devices.filter(confirmed=confirmed)
    device = devices.first()
    if device is None:
        raise MfaNotEnabled()
    return device


def confirm_totp(*, user: User, code: str, request=None) -> list[str]:
    """Turn MFA on with a first good code; returns the recovery codes (shown once)."""
    with transaction.atomic():
        if has_mfa(user):
            raise MfaAlreadyEnabled()
        device = _locked_device(user, confirmed=False)
        ok = _check_totp(device, code)
        if ok:
            device.confirmed, device.confirmed_at = True, timezone.now()
            device.save(update_fields=["confirmed", "confirmed_at"])
            codes = _replace_recovery_codes(user)
    if not ok:
        raise InvalidMfaCode()
    record_security_event("mfa.enabled", request=request, actor=user)
    return codes


def verify_second_factor(
    *, user: User, code: str = "", recovery_code: str = "", request=None
) -> str:
    """Check a TOTP code or a recovery code; returns which ("totp" / "recovery_code") or
    raises InvalidMfaCode / MfaThrottled. Each code works once."""
    with transaction.atomic():
        device = _locked_device(user)
        if recovery_code:
            _require_not_throttled(device)
            ok = _use_recovery_code(user, recovery_code)
            _settle(device, ok)
            method = "recovery_code"
        else:
            ok = _check_totp(device, code)
            method = "totp"
    if not ok:
        record_security_event("mfa.failed", request=request, actor=user, details={"via": method})
        raise InvalidMfaCode()
    if method == "recovery_code":
        left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
        record_security_event(
            "mfa.recovery_code_used", request=request, actor=user, details={"remaining": left}
        )
    return method


def disable(*, user: User, code: str = "", password: str = "", request=None) -> None:
    """Turn MFA off, proven by a current code or the password."""
    if password:
        if not user.check_password(password):
            raise WrongPassword()
    else:
        verify_second_factor(user=user, code=code, request=request)
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
    if not deleted:
        raise MfaNotEnabled()
    record_security_event("mfa.disabled", request=request, actor=user)


def regenerate_recovery_codes(*, user: User, code: str, request=None) -> list[str]:
    verify_second_factor(user=user, code=code, request=request)
    with transaction.atomic():
        return _replace_recovery_codes(user)


# --- recovery codes ------------------------------------------------------------------------
def _digest(code: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(f"docchain-recovery:{normalized}".encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _replace_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, digest=_digest(c)) for c in codes)
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    """Spend a code: a conditional update, so two requests with one code cannot both win."""
    return bool(
        RecoveryCode.objects.filter(user=user, digest=_digest(code), used_at__isnull=True).update(
            used_at=timezone.now()
        )
    )


def status(user: User) -> dict:
    device = TOTPDevice.objects.filter(user=user).first()
    return {
        "enabled": bool(device and device.confirmed),
        "pending_confirmation": bool(device and not device.confirmed),
        "confirmed_at": device.confirmed_at if device else None,
        "recovery_codes_remaining": RecoveryCode.objects.filter(
            user=user, used_at__isnull=True
        ).count(),
    }


# --- the mfa_token of a two-step login -----------------------------------------------------
def issue_mfa_token(user: User) -> str:
    """Signed (SECRET_KEY), short-lived, single-use, and no credential anywhere else: it is
    not a JWT, so no authentication class accepts it."""
    return signing.dumps(
        {"uid": user.pk, "nonce": secrets.token_urlsafe(12)}, salt=_MFA_TOKEN_SALT, compress=True
    )


def read_mfa_token(token: str) -> tuple[User, str]:
    try:
        data = signing.loads(token, salt=_MFA_TOKEN_SALT, max_age=settings.MFA_TOKEN_SECONDS)
    except signing.SignatureExpired:
        raise MfaTokenExpired() from None
    except signing.BadSignature:
        raise MfaTokenInvalid() from None
    if not isinstance(data, dict) or "uid" not in data or "nonce" not in data:
        raise MfaTokenInvalid()
    if cache.get(_spent_key(data["nonce"])):
        raise MfaTokenInvalid()
    user = User.objects.filter(pk=data["uid"], is_active=True).first()
    if user is None:
        raise MfaTokenInvalid()
    return user, data["nonce"]


def spend_mfa_token(nonce: str) -> None:
    cache.set(_spent_key(nonce), 1, settings.MFA_TOKEN_SECONDS + 60)


def _spent_key(nonce: str) -> str:
    return f"mfa-token-spent:{nonce}"
