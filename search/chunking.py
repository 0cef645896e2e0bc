"""Long documents are embedded in overlapping windows of words, each led by the title, so a
passage deep in a long text is found by a query about it (one vector for a whole long text
blurs it), and the best window is the hit's excerpt."""

CHUNK_WORDS = 200
OVERLAP_WORDS = 40
MAX_CHUNKS = 50  # 10,000 words; beyond that the rest of a document is not embedded


def chunks(title: str, content: str) -> list[str]:
    words = content.split()
    title = title.strip()
    if not words:
        return [title or "(empty)"]
    step = CHUNK_WORDS - OVERLAP_WORDS
    out = []
    for start in range(0, len(words), step):
        window = " ".join(words[start : start + CHUNK_WORDS])
        out.append(f"{title}\n{window}" if title else window)
        if start + CHUNK_WORDS >= len(words) or len(out) == MAX_CHUNKS:
            break
    return out
