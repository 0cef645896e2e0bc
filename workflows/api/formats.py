"""YAML in and out of DRF: workflow definitions travel as YAML as well as JSON."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from workflows.definition import dump_yaml, load_text
from workflows.errors import DefinitionError


class YAMLParser(BaseParser):
    """A YAML request body (Content-Type application/yaml), parsed safely."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return load_text(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ParseError("The YAML body is not UTF-8 text.") from exc
        except DefinitionError as exc:
            raise ParseError(exc.message) from exc


class TextYAMLParser(YAMLParser):
    media_type = "text/yaml"


class LegacyYAMLParser(YAMLParser):
    media_type = "application/x-yaml"


YAML_PARSERS = [YAMLParser, TextYAMLParser, LegacyYAMLParser]


class YAMLRenderer(BaseRenderer):
    """Renders data as block YAML, keys in their given order; `?format=yaml` selects it."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dump_yaml(data).encode("utf-8")
