"""Under ASGI, Django runs a middleware chain in one thread only when its innermost middleware
is sync-only: an async-capable one there (any MiddlewareMixin) makes every hook of those above
it, up to the first sync-only one, a thread hop of its own (seven a request here, plus two
for switching back)."""

from django.conf import settings
from django.utils.module_loading import import_string


def test_the_innermost_middleware_is_sync_only():
    innermost = import_string(settings.MIDDLEWARE[-1])
    assert getattr(innermost, "sync_capable", True)
    assert not getattr(innermost, "async_capable", False), innermost
