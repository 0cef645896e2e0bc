"""The API's JSON renderer: orjson (drf-orjson-renderer) for speed, with DRF's own encoder for
whatever orjson does not know (lazy strings, Decimals, timedeltas, querysets...), so the output
is what DRF's JSONRenderer gives and an unknown type is an error, never a silent null."""

import orjson
from drf_orjson_renderer.renderers import ORJSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_drf = JSONEncoder()


class JSONRenderer(ORJSONRenderer):
    # Non-string keys as DRF writes them ({1: x} -> {"1": x}); UTC as "Z", as DRF writes it.
    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z

    @staticmethod
    def default(obj):
        return _drf.default(obj)
