"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the litellm path (standard library
only): the tests reach it through LOCAL_LLM_BASE_URL as `local/<name>`."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from config.testing import free_port


class FakeOpenAI:
    """`mode` decides the next answers: ok (as SSE when asked to stream), 429, 500, 401, 400,
    policy (a content-policy refusal), hang (no answer until released), bad_json (a reply
    that is not the asked JSON)."""

    def __init__(self):
        self.mode = "ok"
        self.reply = "Hello from the local model. It answers over HTTP."
        self.requests: list[dict] = []
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {
                        "path": self.path,
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                        "at": time.monotonic(),
                    }
                )
                mode = fake.mode
                if mode == "hang":
                    fake.release.wait(30)
                    return self._json(200, fake.completion(body))
                if mode == "policy":
                    error = {
                        "message": "Your request was rejected as a result of our safety system.",
                        "type": "invalid_request_error",
                        "code": "content_policy_violation",
                    }
                    return self._json(400, {"error": error})
                if mode in ("429", "500", "401", "400"):
                    message = {"429": "slow down", "500": "boom", "401": "bad key"}.get(
                        mode, "bad request"
                    )
                    return self._json(int(mode), {"error": {"message": message, "type": mode}})
                if body.get("stream"):
                    return self._stream(body)
                return self._json(200, fake.completion(body))

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = fake.reply.split(" ")
                for i, word in enumerate(words):
                    piece = word if i == 0 else " " + word
                    chunk = fake.chunk(body, {"content": piece}, None)
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(f"data: {json.dumps(fake.chunk(body, {}, 'stop'))}\n\n".encode())
                if (body.get("stream_options") or {}).get("include_usage"):
                    final = fake.chunk(body, None, None)
                    final["choices"] = []
                    final["usage"] = fake.usage()
                    self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler

    def usage(self) -> dict:
        return {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}

    def completion(self, body) -> dict:
        content = self.reply
        if self.mode == "bad_json":
            content = '{"unexpected": true}'
        elif body.get("response_format"):
            content = json.dumps({"title": "Local title", "tags": ["a", "b"]})
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": self.usage(),
        }

    def chunk(self, body, delta, finish) -> dict:
        return {
            "id": "chatcmpl-local",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }


@pytest.fixture
def local_llm(settings):
    fake = FakeOpenAI()
    fake.thread.start()
    settings.LOCAL_LLM_BASE_URL = fake.base_url
    settings.LOCAL_LLM_API_KEY = "local-secret"
    settings.LOCAL_LLM_MODELS = ["tiny"]
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()
