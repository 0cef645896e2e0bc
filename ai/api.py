"""AI endpoints: generate (JSON or server-sent events), analyze, models, usage and its summary."""

import json

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, renderers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.scoping import Actor, require_role, workspaces_for
from accounts.viewsets import WorkspaceScopedMixin, WorkspaceScopedViewSet
from ai import analysis, errors, providers, selectors, services
from ai.filters import UsageRecordFilter
from ai.models import BringYourOwnProvider, UsageRecord
from ai.serializers import (
    AnalysisResultSerializer,
    AnalyzeSerializer,
    GenerateResultSerializer,
    GenerateSerializer,
    ModelsSerializer,
    ProviderKeyInputSerializer,
    ProviderKeyListSerializer,
    ProviderKeyStatusSerializer,
    UsageRecordSerializer,
)
from config.api.exceptions import error_body
from config.api.schema import SSE_EVENT_SCHEMA
from config.errors import NotFound


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/event-stream` through content negotiation; an error answered before
    the stream starts is rendered as one `error` event."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return sse("error", data).encode()


def sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def result_body(result) -> dict:
    body = {
        "content": result.content,
        "model": result.model,
        "provider": result.provider,
        "usage": result.as_usage(),
        "cost": result.cost,
        "cached": result.cached,
        "latency_ms": round(result.latency_ms, 3),
        "finish_reason": result.finish_reason,
        "usage_id": result.usage_id,
    }
    if result.data is not None:
        body["data"] = result.data
    return body


class GenerateView(APIView):
    """Generate text with a model (the offline model unless another is configured and asked
    for). `stream: true` answers with server-sent events: `start`, many `delta` ({text}), then
    `done` (the same body as the JSON answer) or `error` (the error shape)."""

    renderer_classes = [
        renderers.JSONRenderer,
        renderers.BrowsableAPIRenderer,
        EventStreamRenderer,
    ]

    @extend_schema(
        request=GenerateSerializer,
        responses={
            (200, "application/json"): GenerateResultSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                SSE_EVENT_SCHEMA,
                description="With `stream: true`: server-sent events `start`, `delta`..., then "
                "`done` (the JSON answer's body), or `error` (the error shape) when the model "
                "fails after the stream began. Failures before it begin are 4xx/5xx statuses.",
            ),
        },
    )
    def post(self, request):
        serializer = GenerateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        params = dict(serializer.validated_data)
        streaming = params.pop("stream")
        # Errors before the first piece of a stream are plain 4xx/5xx.
        answer = services.generate(actor=Actor.from_request(request), streaming=streaming, **params)
        if not streaming:
            return Response(result_body(answer))
        stream = answer
        events = _events(stream)
        if isinstance(request._request, ASGIRequest):
            # Django buffers a sync iterator whole under ASGI; hand it an async one.
            events = _async_events(events)
        response = StreamingHttpResponse(events, content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # no proxy buffering of the events
        return response


def _events(stream):
    yield sse("start", {"model": stream.model, "provider": stream.provider})
    try:
        for piece in stream:
            yield sse("delta", {"text": piece})
    except errors.AIError as exc:
        yield sse("error", error_body(exc.code, exc.message, exc.details))
        return
    yield sse("done", result_body(stream.result))


async def _async_events(events):
    # thread_sensitive: the provider stream and the usage write stay on Django's sync thread.
    pull = sync_to_async(next, thread_sensitive=True)
    done = object()
    try:
        while (event := await pull(events, done)) is not done:
            yield event
    finally:
        await sync_to_async(events.close, thread_sensitive=True)()


class AnalyzeView(APIView):
    """Sentiment, keywords, an extractive summary and readability, with no model; with
    `use_model: true` the summary and keywords come from the workspace's default model.
    Without a model it changes nothing: viewers and read-only API keys may call it; with one it
    spends, like generation (editors, and keys with the write scope)."""

    reads_only = True

    @extend_schema(request=AnalyzeSerializer, responses={200: AnalysisResultSerializer})
    def post(self, request):
        serializer = AnalyzeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = analysis.analyze(
            actor=Actor.from_request(request),
            workspace=data["workspace"],
            text=data["text"],
            use_model=data["use_model"],
        )
        return Response(result)


class ModelsView(APIView):
    """Providers (configured or not) and the models that can be asked for; offline always."""

    @extend_schema(responses={200: ModelsSerializer})
    def get(self, request):
        return Response(
            {
                "default_model": providers.default_model(),
                "providers": providers.providers(),
                "models": providers.available_models(),
            }
        )


class UsageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceScopedViewSet):
    """Model calls in the caller's workspaces, newest first. Filters: model, provider, cached,
    outcome, error_code, workspace, user, since/until (date-times), date_from/date_to (dates)."""

    queryset = UsageRecord.objects.all()
    serializer_class = UsageRecordSerializer
    filterset_class = UsageRecordFilter
    ordering_fields = ["created_at", "total_tokens", "cost", "latency_ms"]
    ordering = ["-created_at", "-id"]


class UsageSummaryView(WorkspaceScopedMixin, GenericAPIView):
    """Totals, by model and by day, over the same filters as the usage list."""

    queryset = UsageRecord.objects.all()
    filterset_class = UsageRecordFilter
    serializer_class = UsageRecordSerializer  # for the schema's filter parameters
    pagination_class = None

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(selectors.usage_summary(self.filter_queryset(self.get_queryset())))


class _WorkspaceProviderKeys(APIView):
    """A workspace's own provider keys (OpenAI, Anthropic, Gemini): members see whether each
    is configured and its last four characters; admins and owners set and remove them."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Settled before the body is parsed: 404 outside the workspace, 403 below admin.
        if request.method not in permissions.SAFE_METHODS:
            require_role(Actor.from_request(request), int(kwargs["workspace_pk"]), Role.ADMIN)

    def workspace(self, request, workspace_pk):
        return get_object_or_404(workspaces_for(Actor.from_request(request)), pk=workspace_pk)

    @staticmethod
    def provider_of(provider: str) -> str:
        if provider not in BringYourOwnProvider.values:
            raise NotFound(
                f"No provider '{provider}' takes a workspace key.",
                details={"providers": BringYourOwnProvider.values},
            )
        return provider

    @staticmethod
    def status_of(workspace_pk: int, provider: str) -> dict:
        rows = selectors.provider_keys_of(workspace_pk)
        return next(row for row in rows if row["provider"] == provider)


class ProviderKeyListView(_WorkspaceProviderKeys):
    @extend_schema(
        operation_id="workspace_ai_keys_list", responses={200: ProviderKeyListSerializer}
    )
    def get(self, request, workspace_pk: int):
        workspace = self.workspace(request, workspace_pk)
        body = {"workspace": workspace.pk, "providers": selectors.provider_keys_of(workspace.pk)}
        return Response(ProviderKeyListSerializer(body).data)


class ProviderKeyDetailView(_WorkspaceProviderKeys):
    @extend_schema(responses={200: ProviderKeyStatusSerializer})
    def get(self, request, workspace_pk: int, provider: str):
        workspace = self.workspace(request, workspace_pk)
        provider = self.provider_of(provider)
        return Response(ProviderKeyStatusSerializer(self.status_of(workspace.pk, provider)).data)

    @extend_schema(request=ProviderKeyInputSerializer, responses={200: ProviderKeyStatusSerializer})
    def put(self, request, workspace_pk: int, provider: str):
        workspace = self.workspace(request, workspace_pk)
        provider = self.provider_of(provider)
        data = ProviderKeyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.set_provider_key(
            actor=Actor.from_request(request),
            workspace=workspace,
            provider=provider,
            api_key=data.validated_data["api_key"],
        )
        return Response(ProviderKeyStatusSerializer(self.status_of(workspace.pk, provider)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, workspace_pk: int, provider: str):
        workspace = self.workspace(request, workspace_pk)
        provider = self.provider_of(provider)
        services.remove_provider_key(
            actor=Actor.from_request(request), workspace=workspace, provider=provider
        )
        return Response(status=204)
