"""Search latency on 10,000 documents: hybrid (full text + embeddings, fused) beside
keyword-only full-text search on the same documents and queries, through
search.selectors.search (what the API and `retrieve` steps call), top 10.

Prints ONE JSON line. Runs on a throwaway database (PostgreSQL `bench_search_<name>` when
DATABASE_URL is set, else var/bench-search.sqlite3), dropped at the end; writes nothing
outside var/. Says whether the vectors were ranked by pgvector or in numpy.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/docchain python bench/search.py [--docs 10000]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

TOPICS = {
    "security": "password login account two-factor phishing access key token breach audit",
    "finance": "revenue budget invoice expense margin forecast quarter profit cash tax",
    "people": "hiring interview onboarding leave holiday salary team manager review career",
    "engineering": "database deploy server incident backup migration latency cache queue bug",
    "marketing": "campaign newsletter social launch brand audience video seo webinar ads",
    "legal": "contract clause liability privacy consent license dispute court policy terms",
}
FILLER = [
    "the", "a", "we", "our", "this", "that", "with", "for", "and",
    "of", "to", "in", "on", "by", "is", "are", "will", "should",
]  # fmt: skip
QUERIES = [
    "set up MFA for my account",
    "how much money did we make",
    "time off after a baby",
    "the website is down",
    "advertising for a new product",
    "privacy terms in the contract",
    "restore the database from a backup",
    "interview process for engineers",
    "quarterly revenue forecast",
    "spotting scam emails",
]


def percentiles(samples: list[float]) -> dict:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2)}


def document(rng: random.Random, i: int) -> tuple[str, str]:
    topic = rng.choice(list(TOPICS))
    words = TOPICS[topic].split()
    sentences = []
    for _ in range(rng.randint(4, 12)):
        picked = rng.sample(words, 3) + rng.sample(FILLER, 5)
        rng.shuffle(picked)
        sentences.append(" ".join(picked).capitalize() + ".")
    return f"{topic.title()} note {i}: {' '.join(rng.sample(words, 2))}", " ".join(sentences)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20, help="times each query is run")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    vendor = connection.vendor
    test = connection.settings_dict.setdefault("TEST", {})
    if vendor == "sqlite":
        test["NAME"] = str(Path(settings.VAR_DIR) / "bench-search.sqlite3")
        Path(settings.VAR_DIR).mkdir(exist_ok=True)
    else:
        test["NAME"] = f"bench_search_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from accounts import services as accounts
        from accounts.scoping import Actor
        from search import selectors, services, vectors
        from workflows import authoring
        from workflows.models import Document, Run
        from workflows.selectors import documents_for

        user = accounts.register_user(
            username="bench", password="Bench-password-42", email="bench@example.com"
        )
        workspace = accounts.personal_workspace(user)
        definition = {"name": "Bench", "steps": [{"key": "s", "kind": "transform", "prompt": "x"}]}
        workflow = authoring.create_workflow(
            actor=Actor(user), workspace=workspace, definition=definition
        )
        snapshot = authoring.current_definition(workflow)
        rng = random.Random(42)
        started = time.perf_counter()
        per_run = 100  # a document is unique per (run, step key)
        for start in range(0, args.docs, per_run):
            run = Run.objects.create(
                workspace=workspace,
                workflow=workflow,
                workflow_version=1,
                definition=snapshot,
                status="succeeded",
            )
            rows = []
            for i in range(start, min(start + per_run, args.docs)):
                title, content = document(rng, i)
                rows.append(
                    Document(
                        workspace=workspace,
                        run=run,
                        step_key=f"s{i - start}",
                        title=title,
                        content=content,
                        word_count=len(content.split()),
                    )
                )
            Document.objects.bulk_create(rows)
        write_s = time.perf_counter() - started
        started = time.perf_counter()
        indexed = services.index_pending(limit=args.docs)
        index_s = time.perf_counter() - started
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        documents = documents_for(Actor(user))

        def timed(mode: str) -> list[float]:
            samples = []
            for _ in range(args.rounds):
                for query in QUERIES:
                    began = time.perf_counter()
                    hits = selectors.search(documents, query, mode=mode, limit=10)
                    samples.append((time.perf_counter() - began) * 1000)
                    assert mode == "keyword" or hits
            return samples

        for mode in ("keyword", "hybrid"):  # warm both paths (model load, caches)
            selectors.search(documents, QUERIES[0], mode=mode, limit=10)
        hybrid, keyword = [], []
        for _ in range(2):  # interleaved halves, so drifting machine load hits both alike
            keyword += timed("keyword")
            hybrid += timed("hybrid")
        vector_store = "pgvector" if vectors.uses_pgvector() else "numpy"
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)

    ours, peer = percentiles(hybrid), percentiles(keyword)
    print(
        json.dumps(
            {
                "bench": "search",
                "database": vendor,
                "vectors": vector_store,
                "documents": args.docs,
                "indexed": indexed,
                "queries": len(hybrid),
                "hybrid_ms": ours,
                "keyword_ms": peer,
                "ratio_p50": round(ours["p50"] / peer["p50"], 2),
                "ratio_p95": round(ours["p95"] / peer["p95"], 2),
                "write_s": round(write_s, 1),
                "index_s": round(index_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
