"""The offline model: a deterministic writer that turns a prompt (and any upstream text it was
given) into a real-looking markdown document, with no network and no weights.

It is plain Python so the gateway can call it in-process (about a millisecond); ai.gateway
also registers it with litellm as the custom provider `offline`, which calls the same code.
"""

import hashlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ai import schema_gen

MODELS = {
    "writer": "Deterministic markdown documents built from the prompt; no network, zero cost.",
}

NOTICE = (
    "*Written offline by Docchain's offline model ({model}): a deterministic draft assembled "
    "from the prompt, not by a language model.*"
)

# Function words that never make a key phrase (the offline writer's own needs; the text
# analysis in ai.analysis uses YAKE, not this).
_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up upon us very was we
    were what when where which while who whom why will with within without would you your yours
    yourself yourselves write draft create generate produce compose make give provide please
    short brief long detailed simple new using use based following below above one two three
    document text article post paragraph paragraphs page words word sentence sentences section
    sections include includes including step steps output input previous earlier upstream
    summarize summarise describe explain list outline"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
# Words, and the punctuation that ends a run of them.
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*|[^\sA-Za-z]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")

_OPENERS = (
    "This document looks at {a}, with particular attention to {b}.",
    "What follows is a short treatment of {a} and how it relates to {b}.",
    "The subject here is {a}; the sections below also touch on {b}.",
)
_POINTS = (
    "{P} deserves a clear definition before anything else is built on it.",
    "{P} is where most of the practical decisions are made.",
    "Getting {p} right early saves work in every later step.",
    "{P} should be measured, not assumed.",
    "A simple, well-documented approach to {p} usually beats a clever one.",
    "{P} connects directly to {q}, so the two are best planned together.",
)
_SOURCE_LEADS = (
    "The earlier material states: “{s}”",
    "As the source puts it: “{s}”",
    "One point carried over from the input: “{s}”",
)
_CLOSERS = (
    "In short, {a} and {b} are the threads that tie this together; the next step is to "
    "review this draft with a real model or an editor.",
    "Taken together, {a} and {b} give a workable starting point; treat this offline draft as "
    "a scaffold, not a final text.",
)


@dataclass(frozen=True)
class Draft:
    text: str
    data: Any = None  # the JSON value, when a schema was asked for


def _seed(*parts: Any) -> int:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big")


def split_messages(messages: list[dict]) -> tuple[str, str]:
    """(instruction, material): the last user message's first paragraph is the instruction;
    its other paragraphs and every other message are material to draw on."""
    contents = [(m.get("role"), _text_of(m.get("content"))) for m in messages]
    last_user = max((i for i, (role, _) in enumerate(contents) if role == "user"), default=None)
    if last_user is None:
        return "", "\n\n".join(c for _, c in contents)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", contents[last_user][1]) if p.strip()]
    instruction = paragraphs[0] if paragraphs else ""
    material = [c for i, (_, c) in enumerate(contents) if i != last_user and c.strip()]
    return instruction, "\n\n".join(material + paragraphs[1:])


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI-style content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def key_phrases(text: str, limit: int = 6) -> list[str]:
    """Runs of up to three content words, ranked by how often their words occur."""
    tokens = _TOKEN.findall(text)
    freq = Counter(
        w.lower() for w in tokens if len(w) > 2 and w[0].isalpha() and w.lower() not in STOPWORDS
    )
    phrases: list[str] = []
    run: list[str] = []
    for w in [*tokens, "."]:
        if w.lower() in freq:
            run.append(w)
            if len(run) < 3:
                continue
        if run:
            phrases.append(" ".join(run))
            run = []
    scored: dict[str, tuple[float, int]] = {}
    for index, phrase in enumerate(phrases):
        key = phrase.lower()
        if key not in scored:
            parts = key.split()
            scored[key] = (sum(freq[p] for p in parts) / len(parts) + 0.3 * len(parts), -index)
    picked: list[str] = []
    for key in sorted(scored, key=lambda k: scored[k], reverse=True):
        words = set(key.split())
        # "solar panels" and "solar panels cut" are one idea: keep the better-ranked one.
        if not any(words <= set(p.split()) or words >= set(p.split()) for p in picked):
            picked.append(key)
        if len(picked) == limit:
            break
    return picked


def _title(instruction: str, phrases: list[str]) -> str:
    first = re.split(r"[.!?\n]", instruction.strip(), maxsplit=1)[0]
    words = [w for w in _WORD.findall(first)]
    # Drop the leading imperative ("Write a short post about ...").
    while words and words[0].lower() in STOPWORDS:
        words.pop(0)
    if len(words) < 2 and phrases:
        words = phrases[0].split()
    if not words:
        return "Untitled Draft"
    title = " ".join(words[:9])
    return title[:1].upper() + title[1:]


def _sentences(text: str) -> list[str]:
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(line.strip(" #>*-\t") for line in paragraph.splitlines()).strip()
        for sentence in _SENTENCE_END.split(flat):
            sentence = sentence.strip()
            if 25 <= len(sentence) <= 300 and not sentence.startswith(("*Written offline", "|")):
                out.append(sentence)
    return out


def write(messages: list[dict], *, model: str = "offline/writer") -> str:
    """The full markdown document for these messages (deterministic)."""
    instruction, material = split_messages(messages)
    rng = random.Random(_seed(model, messages))  # noqa: S311 - not for security
    phrases = key_phrases(f"{instruction}\n{instruction}\n{material}") or ["the topic"]
    while len(phrases) < 4:
        phrases.append(phrases[len(phrases) % max(1, len(phrases))] if phrases else "the topic")
    a, b = phrases[0], phrases[1]
    lines = [f"# {_title(instruction, phrases)}", "", NOTICE.format(model=model), ""]
    lines += ["## Overview", "", rng.choice(_OPENERS).format(a=a, b=b)]
    if instruction:
        lines[-1] += f" It was written in answer to: “{_clip(instruction, 200)}”"
    lines += ["", "## Key points", ""]
    for i, phrase in enumerate(phrases[:5]):
        other = phrases[(i + 1) % len(phrases)]
        sentence = rng.choice(_POINTS).format(P=phrase.capitalize(), p=phrase, q=other)
        lines.append(f"- **{phrase.capitalize()}**: {sentence}")
    picked = _sentences(material)
    if picked:
        lines += ["", "## From the source material", ""]
        step = max(1, len(picked) // 3)
        for sentence in picked[::step][:3]:
            lines.append(rng.choice(_SOURCE_LEADS).format(s=sentence))
            lines.append("")
        lines.pop()
    lines += ["", "## Summary", "", rng.choice(_CLOSERS).format(a=a, b=b)]
    return "\n".join(lines) + "\n"


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def write_json(messages: list[dict], schema: dict | bool) -> Any:
    """A JSON value valid for `schema`, with strings drawn from the prompt."""
    instruction, material = split_messages(messages)
    phrases = key_phrases(f"{instruction}\n{material}", limit=12) or ["offline value"]
    return schema_gen.instance_for(
        schema,
        title=_title(instruction, phrases),
        phrases=phrases,
        sentences=_sentences(material) or [f"An offline draft about {phrases[0]}."],
    )


def chunks(text: str, words_per_chunk: int = 4) -> Iterator[str]:
    """The text in small pieces (whitespace kept), as a streaming reply would arrive."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    for i in range(0, len(pieces), words_per_chunk):
        yield "".join(pieces[i : i + words_per_chunk])


def simulate_latency(latency_ms: float, timeout: float | None) -> None:
    """Sleep like a slow provider; past `timeout` (seconds), raise TimeoutError after it."""
    if latency_ms <= 0:
        return
    if timeout is not None and latency_ms / 1000 > timeout:
        time.sleep(timeout)
        raise TimeoutError(f"offline model latency {latency_ms} ms exceeds timeout {timeout}s")
    time.sleep(latency_ms / 1000)
