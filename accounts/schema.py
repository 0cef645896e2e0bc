"""Teach drf-spectacular about our API-key authentication, so /openapi.json documents it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A workspace API key, sent as "Api-Key <key>".',
        }


class SessionJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    """Our JWT check is simplejwt's with a session check on top: the same bearer scheme."""

    target_class = "accounts.authentication.SessionJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
