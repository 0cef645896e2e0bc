"""The security API under /api/v3/security/: sessions, MFA, passwords, lockouts, stats; and
each workspace's security policy. Thin: parse, call a service, render."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import (
    lockout,
    mfa,
    password_flows,
    passwords,
    policies,
    security_stats,
    sessions,
)
from accounts.models import LoginSession
from accounts.permissions import IsStaff
from accounts.scoping import Actor, workspaces_for
from accounts.security_serializers import (
    CodeSerializer,
    DetailSerializer,
    LockoutSerializer,
    LoginSessionSerializer,
    MfaDisableSerializer,
    MfaStatusSerializer,
    PasswordChangedSerializer,
    PasswordChangeSerializer,
    PasswordReportSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RecoveryCodesSerializer,
    RevokeAllResultSerializer,
    SecurityPolicySerializer,
    SecurityStatsQuerySerializer,
    TotpEnrolmentSerializer,
    UnlockResultSerializer,
    UnlockSerializer,
    ValidatePasswordSerializer,
)
from audit.services import record_security_event


# --- sessions ------------------------------------------------------------------------------
class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """My login sessions (active first, newest seen first). DELETE revokes one: its access
    and refresh tokens stop working at once; `revoke-all` ends all but the current one."""

    serializer_class = LoginSessionSerializer
    filterset_fields = ["kind"]
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    allowed_without_mfa = True
    ends_own_credential = True  # revoking the caller's own session ends its token

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return LoginSession.objects.none()
        rows = LoginSession.objects.filter(user=self.request.user)
        if self.action == "list" and self.request.query_params.get("all") != "true":
            rows = rows.filter(revoked_at__isnull=True)
        return rows.order_by("revoked_at", "-last_seen_at")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "current_sid": sessions.sid_of(self.request)}

    @extend_schema(extensions={"x-ends-own-credential": True})
    def destroy(self, request, *args, **kwargs):
        session = self.get_object()  # another user's session is 404
        sessions.revoke(session=session, reason="revoked")
        record_security_event(
            "session.revoked", request=request, details={"session_id": str(session.pk)}
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={200: RevokeAllResultSerializer},
        extensions={"x-ends-own-credential": True},
    )
    @action(detail=False, methods=["post"], url_path="revoke-all")
    def revoke_all(self, request):
        current = sessions.sid_of(request)
        count = sessions.revoke_all(user=request.user, except_sid=current, reason="revoked")
        record_security_event(
            "session.revoked", request=request, details={"all_but_current": True, "count": count}
        )
        return Response({"revoked": count})


# --- MFA -----------------------------------------------------------------------------------
class MfaStatusView(APIView):
    allowed_without_mfa = True

    @extend_schema(responses={200: MfaStatusSerializer})
    def get(self, request):
        return Response(MfaStatusSerializer(mfa.status(request.user)).data)


class TotpEnrolView(APIView):
    """Start enrolling an authenticator: the secret, its otpauth:// URI and a QR code (SVG).
    MFA is on once /confirm receives a first good code."""

    allowed_without_mfa = True
    throttle_scope = "mfa"

    @extend_schema(request=None, responses={201: TotpEnrolmentSerializer})
    def post(self, request):
        enrolment = mfa.begin_totp(user=request.user)
        body = {
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": enrolment.qr_svg,
        }
        return Response(TotpEnrolmentSerializer(body).data, status=status.HTTP_201_CREATED)


class TotpConfirmView(APIView):
    """A first code from the app turns MFA on; the 10 recovery codes are shown this once."""

    allowed_without_mfa = True
    throttle_scope = "mfa"

    @extend_schema(request=CodeSerializer, responses={200: RecoveryCodesSerializer})
    def post(self, request):
        data = CodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa.confirm_totp(
            user=request.user, code=data.validated_data["code"], request=request
        )
        return Response({"recovery_codes": codes})


class TotpDisableView(APIView):
    """Turn MFA off, with a current code or the password."""

    throttle_scope = "mfa"

    @extend_schema(
        request=MfaDisableSerializer,
        responses={204: None},
        extensions={"x-ends-own-credential": True},
    )
    def post(self, request):
        data = MfaDisableSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mfa.disable(user=request.user, request=request, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecoveryCodesView(APIView):
    """New recovery codes (the old ones stop working), with a current code."""

    throttle_scope = "mfa"

    @extend_schema(request=CodeSerializer, responses={200: RecoveryCodesSerializer})
    def post(self, request):
        data = CodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = mfa.regenerate_recovery_codes(
            user=request.user, code=data.validated_data["code"], request=request
        )
        return Response({"recovery_codes": codes})


# --- passwords -----------------------------------------------------------------------------
class PasswordChangeView(APIView):
    """Old and new password; every other session of the account ends (this one goes on)."""

    allowed_without_mfa = True
    throttle_scope = "password"

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={200: PasswordChangedSerializer},
        extensions={"x-ends-own-credential": True},
    )
    def post(self, request):
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ended = password_flows.change_password(
            user=request.user, request=request, **data.validated_data
        )
        return Response({"sessions_ended": ended})


class PasswordResetView(APIView):
    """Mail a reset link. The answer is the same whether or not the address has an account."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_scope = "password_reset"

    @extend_schema(request=PasswordResetSerializer, responses={202: DetailSerializer})
    def post(self, request):
        data = PasswordResetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_flows.request_reset(email=data.validated_data["email"], request=request)
        detail = "If an account has this address, a reset link is on its way."
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    """The uid and token from the mail, and the new password; every session ends."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_scope = "password"

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={200: DetailSerializer},
        extensions={"x-ends-own-credential": True},
    )
    def post(self, request):
        data = PasswordResetConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_flows.confirm_reset(request=request, **data.validated_data)
        return Response({"detail": "Password changed; log in with the new one."})


class ValidatePasswordView(APIView):
    """Strength and every failing rule of a candidate password; nothing is created or kept.
    Signed in, the rules of the caller's workspaces count too."""

    permission_classes = [permissions.AllowAny]
    throttle_scope = "validate_password"

    @extend_schema(request=ValidatePasswordSerializer, responses={200: PasswordReportSerializer})
    def post(self, request):
        data = ValidatePasswordSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = request.user if request.user.is_authenticated else None
        if user is None:
            from accounts.models import User  # noqa: PLC0415

            user = User(username=values["username"], email=values["email"])
        return Response(PasswordReportSerializer(passwords.report(values["password"], user)).data)


# --- lockouts (staff) ----------------------------------------------------------------------
class LockoutListView(APIView):
    """Accounts with failed logins on record (staff only): failures, last one, locked."""

    permission_classes = [IsStaff]

    @extend_schema(responses={200: LockoutSerializer(many=True)})
    def get(self, request):
        return Response(LockoutSerializer(lockout.lockout_rows(), many=True).data)


class UnlockView(APIView):
    """Unlock an account at once (staff only): its failed logins are cleared."""

    permission_classes = [IsStaff]

    @extend_schema(request=UnlockSerializer, responses={200: UnlockResultSerializer})
    def post(self, request):
        data = UnlockSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        cleared = lockout.unlock(request=request, username=username)
        return Response({"username": username, "attempts_cleared": cleared})


# --- workspace policy ----------------------------------------------------------------------
class SecurityPolicyView(APIView):
    """A workspace's security policy: members read it, owners and admins change it."""

    def _workspace(self, request, workspace_pk):
        return get_object_or_404(workspaces_for(Actor.from_request(request)), pk=workspace_pk)

    @extend_schema(responses={200: SecurityPolicySerializer})
    def get(self, request, workspace_pk: int):
        workspace = self._workspace(request, workspace_pk)
        return Response(SecurityPolicySerializer(policies.policy_of(workspace)).data)

    @extend_schema(
        request=SecurityPolicySerializer,
        responses={200: SecurityPolicySerializer},
        extensions={"x-ends-own-credential": True},
    )
    def put(self, request, workspace_pk: int):
        return self._save(request, workspace_pk, partial=False)

    @extend_schema(
        request=SecurityPolicySerializer,
        responses={200: SecurityPolicySerializer},
        extensions={"x-ends-own-credential": True},
    )
    def patch(self, request, workspace_pk: int):
        return self._save(request, workspace_pk, partial=True)

    def _save(self, request, workspace_pk, *, partial: bool):
        workspace = self._workspace(request, workspace_pk)
        data = SecurityPolicySerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        policy = policies.set_policy(
            actor=Actor.from_request(request), workspace=workspace, **data.validated_data
        )
        return Response(SecurityPolicySerializer(policy).data)


# --- stats ---------------------------------------------------------------------------------
class SecurityStatsView(APIView):
    """Logins, lockouts, sessions, MFA adoption, API keys, rate limiting and open alerts over
    `time_range` (hour, day, week, month) for the caller's workspaces (staff: everything)."""

    @extend_schema(
        parameters=[SecurityStatsQuerySerializer],
        responses={200: OpenApiResponse(description="The figures, by section.")},
    )
    def get(self, request):
        query = SecurityStatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(
            security_stats.stats_for(
                actor=Actor.from_request(request), time_range=query.validated_data["time_range"]
            )
        )
