"""The offline model as a litellm custom provider (`offline/<name>`). Imported only by
ai.gateway.litellm(), after litellm itself, so nothing here loads at Django start-up."""

import time

import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse, Usage

from ai import gateway, offline


class OfflineLLM(CustomLLM):
    """Deterministic markdown (or schema-valid JSON) from the messages; see ai.offline."""

    def _reply(self, model: str, messages: list, optional_params: dict, timeout) -> gateway.Reply:
        schema = None
        response_format = optional_params.get("response_format") or {}
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema")
        timeout_s = timeout if isinstance(timeout, int | float) else None
        try:
            return gateway.offline_reply(
                f"offline/{model}",
                messages,
                optional_params.get("max_tokens"),
                schema,
                float(optional_params.get("latency_ms") or 0),
                timeout_s,
            )
        except gateway.errors.ProviderTimeout as exc:
            raise litellm.Timeout(
                message=exc.message, model=f"offline/{model}", llm_provider="offline"
            ) from exc

    # litellm calls these with positional arguments in this order.
    def completion(
        self, model, messages, api_base, custom_prompt_dict, model_response: ModelResponse,
        print_verbose, encoding, api_key, logging_obj, optional_params, *args, **kwargs,
    ):  # fmt: skip
        reply = self._reply(model, messages, optional_params, kwargs.get("timeout"))
        model_response.choices[0].message.content = reply.content
        model_response.choices[0].finish_reason = reply.finish_reason
        model_response.model = f"offline/{model}"
        model_response.created = int(time.time())
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            total_tokens=reply.prompt_tokens + reply.completion_tokens,
        )
        return model_response

    async def acompletion(self, *args, **kwargs):
        return self.completion(*args, **kwargs)

    def streaming(
        self, model, messages, api_base, custom_prompt_dict, model_response,
        print_verbose, encoding, api_key, logging_obj, optional_params, *args, **kwargs,
    ):  # fmt: skip
        params = {**optional_params, "latency_ms": 0}
        reply = self._reply(model, messages, params, None)
        pieces = list(offline.chunks(reply.content))
        pause = float(optional_params.get("latency_ms") or 0) / 1000 / max(1, len(pieces))
        for index, piece in enumerate(pieces):
            if pause:
                time.sleep(pause)
            last = index == len(pieces) - 1
            yield GenericStreamingChunk(
                text=piece,
                is_finished=last,
                finish_reason=reply.finish_reason if last else "",
                usage={
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                }
                if last
                else None,
                index=0,
                tool_use=None,
            )

    async def astreaming(self, *args, **kwargs):
        for chunk in self.streaming(*args, **kwargs):
            yield chunk


_handler = OfflineLLM()


def register(module) -> None:
    """Make `offline/<name>` a litellm provider with a zero price, so completion_cost works."""
    providers = [p for p in (module.custom_provider_map or []) if p.get("provider") != "offline"]
    module.custom_provider_map = [*providers, {"provider": "offline", "custom_handler": _handler}]
    # litellm reads custom_provider_map into its provider list through this hook.
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    module.register_model(
        {
            f"offline/{name}": {
                "litellm_provider": "offline",
                "mode": "chat",
                "input_cost_per_token": 0,
                "output_cost_per_token": 0,
                "cache_creation_input_token_cost": 0,
                "cache_read_input_token_cost": 0,
                "max_tokens": 1_000_000,
            }
            for name in offline.MODELS
        }
    )
