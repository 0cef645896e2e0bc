"""OpenAPI operations tagged by the app that serves them, so `/docs` groups them by app (the
tags' order and descriptions: SPECTACULAR_SETTINGS["TAGS"]). An explicit
`@extend_schema(tags=...)` still wins."""

from drf_spectacular.openapi import AutoSchema


class AppTaggedAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        return [type(self.view).__module__.split(".")[0]]
