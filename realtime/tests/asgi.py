"""The project's ASGI application with the tests' "workspace" topic registered: what the
end-to-end and browser tests serve with uvicorn."""

from config.asgi import application  # noqa: F401  (sets Django up first)
from realtime.tests import workspace_topic

workspace_topic.register()
