"""The browser logins (the admin's and the browsable API's) ask for the second factor too."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts import mfa
from accounts.errors import InvalidMfaCode, MfaThrottled


class MfaAuthenticationForm(AuthenticationForm):
    """Username and password (through axes, like every login), then, for a user with MFA on,
    a code from the authenticator app or a recovery code."""

    otp_code = forms.CharField(
        label="Authenticator code (if two-factor is on)",
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not mfa.has_mfa(user):
            return
        code = (self.cleaned_data.get("otp_code") or "").strip()
        if not code:
            raise forms.ValidationError(
                "Two-factor authentication is on: enter the code from your app.",
                code="mfa_required",
            )
        is_recovery = not code.replace(" ", "").isdigit()
        try:
            mfa.verify_second_factor(
                user=user,
                code="" if is_recovery else code,
                recovery_code=code if is_recovery else "",
                request=self.request,
            )
        except MfaThrottled as exc:
            raise forms.ValidationError(exc.message, code="mfa_throttled") from None
        except InvalidMfaCode as exc:
            raise forms.ValidationError(exc.message, code="invalid_mfa_code") from None
