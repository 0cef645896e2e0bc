"""GET /api/v3/documents/search and /documents/{id}/related: ranking by meaning, the labelled
set's recall@5 per mode, hits with score and excerpt, filters, scoping and bad input."""

import pytest

from accounts.models import WorkspaceSettings
from config.testing import assert_error
from search import selectors
from search.tests.labelled import QUERIES
from workflows.models import Document

pytestmark = pytest.mark.django_db

URL = "/api/v3/documents/search"
MFA_AND_REVENUE = {
    "mfa": (
        "Two-factor authentication",
        "Protect your account with a one-time code from an authenticator app.",
    ),
    "revenue": (
        "Quarterly revenue",
        "Sales grew eleven percent this quarter; margins held steady.",
    ),
}


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [hit["document"]["title"] for hit in response.json()["results"]]


def test_semantic_query_finds_meaning_without_a_shared_word(
    alice_api, write_documents, user, workspace
):
    write_documents(user, workspace, MFA_AND_REVENUE)
    query = "set up MFA"
    for title, content in MFA_AND_REVENUE.values():  # no word in common, not even a stem
        assert not set(selectors.words(query)) & set(selectors.words(f"{title} {content}"))
    found = titles(alice_api.get(URL, {"q": query, "mode": "semantic"}))
    assert found == ["Two-factor authentication", "Quarterly revenue"]
    # Keyword search has nothing to go on.
    assert titles(alice_api.get(URL, {"q": query, "mode": "keyword"})) == []
    # Hybrid (the default) still puts the right one first.
    assert titles(alice_api.get(URL, {"q": query}))[0] == "Two-factor authentication"


def recall_at_5(library: dict, mode: str) -> float:
    names = {doc.pk: key for key, doc in library.items()}
    total = 0.0
    for query, wanted in QUERIES.items():
        hits = selectors.search(Document.objects.all(), query, mode=mode, limit=5)
        total += len({names[h.document_id] for h in hits} & set(wanted)) / len(wanted)
    return total / len(QUERIES)


def test_hybrid_beats_keyword_on_the_labelled_set(library, capsys):
    recall = {mode: recall_at_5(library, mode) for mode in ("keyword", "semantic", "hybrid")}
    with capsys.disabled():
        print(f"\nrecall@5 on the labelled set: {recall}")
    assert recall["hybrid"] > recall["keyword"]
    assert recall["semantic"] > recall["keyword"]
    assert recall["hybrid"] >= 0.9


def test_hits_have_score_excerpt_and_ranks(alice_api, library):
    body = alice_api.get(URL, {"q": "restore the database backups"}).json()
    assert set(body) == {"count", "next", "previous", "results"}
    first = body["results"][0]
    assert first["document"]["title"] == "Backups and restore drills"
    assert set(first) == {
        "document",
        "score",
        "excerpt",
        "keyword_rank",
        "semantic_rank",
        "similarity",
    }
    assert first["keyword_rank"] == 1 and first["semantic_rank"] is not None
    assert "restore" in first["excerpt"].lower()
    scores = [hit["score"] for hit in body["results"]]
    assert scores == sorted(scores, reverse=True)
    semantic = alice_api.get(URL, {"q": "stolen login details", "mode": "semantic"}).json()
    top = semantic["results"][0]
    assert top["keyword_rank"] is None and 0 < top["similarity"] <= 1
    assert top["excerpt"]


def test_filters_as_the_documents_list(alice_api, library, write_documents, user, workspace):
    other = write_documents(user, workspace, {"mfa2": ("MFA for admins", "Admins use keys.")})
    workflow_id = other["mfa2"].run.workflow_id
    found = titles(alice_api.get(URL, {"q": "two-factor MFA", "workflow": workflow_id}))
    assert found == ["MFA for admins"]
    found = titles(alice_api.get(URL, {"q": "two-factor MFA", "step": "mfa"}))
    assert found == ["Two-factor authentication for every account"]
    paged = alice_api.get(URL, {"q": "policy", "page_size": 2}).json()
    assert len(paged["results"]) == 2 and paged["next"]


def test_other_workspaces_documents_are_never_found(
    alice_api, client_for, write_documents, user, workspace, other_user, other_workspace
):
    theirs = write_documents(other_user, other_workspace, MFA_AND_REVENUE)
    write_documents(user, workspace, {"note": ("Lunch menu", "Soup and bread on Monday.")})
    for mode in ("keyword", "semantic", "hybrid"):
        assert "Two-factor authentication" not in titles(
            alice_api.get(URL, {"q": "two-factor authentication", "mode": mode})
        )
    assert_error(alice_api.get(URL, {"q": "x", "workspace": other_workspace.id}), 404)
    assert_error(alice_api.get(f"/api/v3/documents/{theirs['mfa'].pk}/related"), 404)
    mine = client_for(other_user).get(URL, {"q": "two-factor authentication"})
    assert titles(mine)[0] == "Two-factor authentication"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "invalid_query"),
        ({"q": "   "}, "invalid_query"),
        ({"q": "x" * 501}, "query_too_long"),
        ({"q": "mfa", "mode": "fuzzy"}, "invalid_mode"),
        ({"q": "mfa", "workflow": "abc"}, "validation_error"),
        ({"q": "mfa", "page": "9"}, "not_found"),
    ],
)
def test_bad_input_is_a_4xx_in_the_error_shape(alice_api, library, params, code):
    response = alice_api.get(URL, params)
    assert_error(response, 404 if code == "not_found" else 400, code)


def test_search_needs_authentication(api):
    assert_error(api.get(URL, {"q": "mfa"}), 401)


def test_related_documents_are_the_nearest_in_meaning(alice_api, library):
    response = alice_api.get(f"/api/v3/documents/{library['vacation'].pk}/related")
    found = titles(response)
    assert "Holiday and leave policy" not in found  # never itself
    assert found[0] == "Parental leave"
    assert found.index("Parental leave") < found.index("Quarterly revenue report")


def test_related_works_before_the_document_is_indexed(
    alice_api, library, write_documents, user, workspace
):
    new = write_documents(
        user, workspace, {"leave": ("Sick leave", "Paid leave when you are ill.")}, index=False
    )
    found = titles(alice_api.get(f"/api/v3/documents/{new['leave'].pk}/related"))
    assert found[0] in {"Parental leave", "Holiday and leave policy"}


def test_a_provider_chat_model_is_not_an_embedding_model(alice_api, workspace):
    url = f"/api/v3/workspaces/{workspace.id}/settings"
    response = alice_api.patch(url, {"embedding_model": "openai/gpt-4o"}, format="json")
    error = assert_error(response, 400, "validation_error")
    assert "embedding_model" in error["details"]
    assert_error(alice_api.patch(url, {"embedding_model": "fancy"}, format="json"), 400)
    ok = alice_api.patch(url, {"embedding_model": "openai/text-embedding-3-small"}, format="json")
    assert ok.status_code == 200, ok.content
    assert WorkspaceSettings.objects.get(workspace=workspace).embedding_model == (
        "openai/text-embedding-3-small"
    )


def test_an_unreachable_embedding_provider_is_a_503(alice_api, library, workspace):
    WorkspaceSettings.objects.update_or_create(
        workspace=workspace, defaults={"embedding_model": "local/nomic-embed"}
    )
    # LOCAL_LLM_BASE_URL is empty in tests: the provider is not configured.
    assert_error(alice_api.get(URL, {"q": "mfa", "mode": "semantic"}), 503, "embedding_unavailable")
    # Keyword search does not need embeddings.
    assert alice_api.get(URL, {"q": "mfa", "mode": "keyword"}).status_code == 200


@pytest.mark.parametrize("name", ["run", "workflow", "workspace"])
def test_an_id_beyond_any_integer_column_finds_nothing(alice_api, library, name):
    """The fuzzer's find on SQLite: an id past 64 bits reached the database (500)."""
    response = alice_api.get(URL, {"q": "mfa", name: "-694314679136838985187328"})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["results"] == []
    else:  # the filter's own message, as the documents list gives it
        messages = response.json()["error"]["details"][name]
        assert messages and all(isinstance(m, str) and m for m in messages)
        assert response.json()["error"]["message"].endswith(messages[0])
