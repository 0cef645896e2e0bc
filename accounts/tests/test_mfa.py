"""MFA: enrol TOTP (codes computed with pyotp), the two-step login, recovery codes once,
replay refused, disable, and the secrets kept out of the database and the logs."""

import logging
import time

import pyotp
import pytest
from django.db import connection

from accounts.models import RecoveryCode, TOTPDevice
from config.testing import assert_error
from conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def _verify(api, path="/api/v3/auth/mfa/verify", **body):
    return api.post(path, body, format="json")


def test_enrol_returns_secret_uri_and_svg_qr(alice_api, user):
    response = alice_api.post("/api/v3/security/mfa/totp")
    assert response.status_code == 201
    body = response.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/Docchain:alice?secret=")
    assert body["secret"] in body["otpauth_uri"]
    assert body["qr_svg"].lstrip().startswith("<svg")
    assert alice_api.get("/api/v3/security/mfa").json()["pending_confirmation"] is True
    # Not on until confirmed: the login still gives tokens.
    assert not TOTPDevice.objects.get(user=user).confirmed


def test_secret_is_encrypted_and_recovery_codes_hashed(enrol_mfa, user):
    totp, codes = enrol_mfa(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM accounts_totpdevice WHERE user_id = %s", [user.pk])
        stored = cursor.fetchone()[0]
    assert totp.secret not in stored
    assert len(codes) == 10 and len(set(codes)) == 10
    digests = set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
    assert len(digests) == 10
    assert not any(code.replace("-", "") in digest for code in codes for digest in digests)


def test_full_mfa_login_cycle(api, login, bearer, enrol_mfa, user, caplog):
    caplog.set_level(logging.DEBUG)
    totp, codes = enrol_mfa(user)

    first = login()
    assert first.status_code == 200
    body = first.json()
    assert body["mfa_required"] is True and body["expires_in"] > 0
    assert "access" not in body
    # The mfa_token is no credential.
    assert_error(bearer(body["mfa_token"]).get("/api/v3/auth/me"), 401)

    # The confirmation used this time step: a code for the next one (drift of one step).
    code = totp.at(time.time() + 30)
    tokens = _verify(api, mfa_token=body["mfa_token"], code=code)
    assert tokens.status_code == 200, tokens.content
    assert bearer(tokens.json()["access"]).get("/api/v3/auth/me").status_code == 200

    # Replay: the same code again (with a fresh mfa_token) is refused.
    again = login().json()
    assert_error(_verify(api, mfa_token=again["mfa_token"], code=code), 400, "invalid_mfa_code")
    # The mfa_token that already gave tokens is spent.
    assert_error(_verify(api, mfa_token=body["mfa_token"], code=code), 401, "mfa_token_invalid")

    # A recovery code works once (at the brief's path too).
    recovered = _verify(
        api,
        "/api/v3/security/auth/mfa/verify",
        mfa_token=again["mfa_token"],
        recovery_code=codes[0],
    )
    assert recovered.status_code == 200, recovered.content
    third = login().json()
    assert_error(
        _verify(api, mfa_token=third["mfa_token"], recovery_code=codes[0]), 400, "invalid_mfa_code"
    )
    assert (
        bearer(tokens.json()["access"])
        .get("/api/v3/security/mfa")
        .json()["recovery_codes_remaining"]
        == 9
    )

    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (totp.secret, code, codes[0], body["mfa_token"], STRONG_PASSWORD):
        assert secret not in logged


def test_wrong_code_expired_and_forged_tokens(api, login, enrol_mfa, user, settings):
    enrol_mfa(user)
    token = login().json()["mfa_token"]
    assert_error(_verify(api, mfa_token=token, code="000000"), 400, "invalid_mfa_code")
    assert_error(_verify(api, mfa_token=token, code="abc"), 400, "invalid_mfa_code")
    assert_error(_verify(api, mfa_token="garbage", code="123456"), 401, "mfa_token_invalid")
    assert_error(_verify(api, mfa_token=token), 400, "validation_error")
    assert_error(
        _verify(api, mfa_token=token, code="123456", recovery_code="x"), 400, "validation_error"
    )
    settings.MFA_TOKEN_SECONDS = -1  # every token is already past its age
    assert_error(_verify(api, mfa_token=token, code="123456"), 401, "mfa_token_expired")


def test_wrong_codes_back_off(api, login, enrol_mfa, user, settings):
    totp, _ = enrol_mfa(user)
    settings.MFA_THROTTLE_FACTOR = 60
    token = login().json()["mfa_token"]
    assert_error(_verify(api, mfa_token=token, code="000000"), 400, "invalid_mfa_code")
    # Even the right code waits out the back-off now.
    response = _verify(api, mfa_token=token, code=totp.at(time.time() + 30))
    assert_error(response, 429, "mfa_throttled")
    assert int(response["Retry-After"]) > 0


def test_enrol_twice_confirm_wrong_and_disable(client_for, enrol_mfa, user):
    client = client_for(user)
    client.post("/api/v3/security/mfa/totp")
    assert_error(
        client.post("/api/v3/security/mfa/totp/confirm", {"code": "000000"}, format="json"),
        400,
        "invalid_mfa_code",
    )
    TOTPDevice.objects.filter(user=user).delete()
    totp, _ = enrol_mfa(user)
    assert_error(client.post("/api/v3/security/mfa/totp"), 409, "mfa_already_enabled")
    assert_error(
        client.post("/api/v3/security/mfa/totp/disable", {"password": "wrong"}, format="json"),
        400,
        "invalid_password",
    )
    off = client.post(
        "/api/v3/security/mfa/totp/disable", {"password": STRONG_PASSWORD}, format="json"
    )
    assert off.status_code == 204
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert_error(
        client.post("/api/v3/security/mfa/totp/disable", {"code": "123456"}, format="json"),
        409,
        "mfa_not_enabled",
    )


def test_regenerated_recovery_codes_replace_the_old(client_for, api, login, enrol_mfa, user):
    totp, old_codes = enrol_mfa(user)
    client = client_for(user)
    fresh = client.post(
        "/api/v3/security/mfa/recovery-codes", {"code": totp.at(time.time() + 30)}, format="json"
    )
    assert fresh.status_code == 200
    new_codes = fresh.json()["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    token = login().json()["mfa_token"]
    assert_error(_verify(api, mfa_token=token, recovery_code=old_codes[1]), 400, "invalid_mfa_code")
    assert _verify(api, mfa_token=token, recovery_code=new_codes[1]).status_code == 200


def test_pyotp_and_our_codes_agree():
    # The device uses django-otp's TOTP: an independent implementation computes the same code.
    from base64 import b32decode

    from django_otp.oath import TOTP

    secret = pyotp.random_base32()
    ours = TOTP(b32decode(secret), step=30, digits=6)
    ours.time = 1_700_000_000
    assert f"{ours.token():06d}" == pyotp.TOTP(secret).at(1_700_000_000)


@pytest.mark.parametrize("path", ["/admin/login/?next=/admin/", "/api-auth/login/"])
def test_browser_logins_ask_for_the_code(client, enrol_mfa, user, path):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    totp, codes = enrol_mfa(user)
    form = {"username": "alice", "password": STRONG_PASSWORD}

    without = client.post(path, form)
    assert without.status_code == 200 and b"Two-factor authentication is on" in without.content
    wrong = client.post(path, {**form, "otp_code": "000000"})
    assert wrong.status_code == 200 and b"wrong, expired or already used" in wrong.content
    assert client.get("/api/v3/auth/me").status_code in (401, 403)

    right = client.post(path, {**form, "otp_code": codes[0]})  # a recovery code works too
    assert right.status_code == 302
    assert client.get("/api/v3/auth/me").status_code == 200
