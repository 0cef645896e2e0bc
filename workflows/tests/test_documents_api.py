"""Documents: lists, filters, full-text search (PostgreSQL ranked, icontains elsewhere),
parents and children, lineage."""

import pytest
from django.db import connection

from accounts.models import Role
from accounts.scoping import Actor
from config.testing import assert_error
from workflows import selectors
from workflows.models import Document
from workflows.tests.factories import make_document, make_run, make_workflow

pytestmark = pytest.mark.django_db

DIAMOND = {
    "name": "Diamond",
    "steps": [
        {"key": "brief", "kind": "transform", "prompt": "b"},
        {"key": "blog", "kind": "transform", "prompt": "{{ steps.brief.output }}"},
        {
            "key": "news",
            "kind": "transform",
            "depends_on": ["brief"],
            "prompt": "{{ steps.brief.output }}",
        },
        {"key": "kit", "kind": "transform", "depends_on": ["blog", "news"], "prompt": "k"},
    ],
}


@pytest.fixture
def diamond(user, workspace):
    workflow = make_workflow(user, workspace, DIAMOND)
    run = make_run(workflow)
    brief = make_document(run, "brief", content="A brief about solar kettles")
    blog = make_document(run, "blog", parents=[brief], content="Blog on solar kettles boiling")
    news = make_document(run, "news", parents=[brief], content="Newsletter: kettles and tea")
    kit = make_document(run, "kit", parents=[blog, news], content="The kit")
    return dict(workflow=workflow, run=run, brief=brief, blog=blog, news=news, kit=kit)


def test_run_documents_in_the_order_made(alice_api, diamond):
    body = alice_api.get(f"/api/v3/runs/{diamond['run'].id}/documents/").json()
    assert [d["step_key"] for d in body["results"]] == ["brief", "blog", "news", "kit"]
    kit = body["results"][3]
    assert set(kit) >= {
        "id",
        "step_key",
        "title",
        "content",
        "word_count",
        "analysis",
        "parents",
        "created_at",
    }
    assert kit["parents"] == sorted([diamond["blog"].id, diamond["news"].id])
    assert body["results"][0]["parents"] == []


def test_document_detail_has_parents_and_children(alice_api, diamond):
    body = alice_api.get(f"/api/v3/documents/{diamond['brief'].id}/").json()
    assert body["parents"] == [] and body["children"] == sorted(
        [diamond["blog"].id, diamond["news"].id]
    )
    assert body["workflow"] == diamond["workflow"].id and body["run"] == diamond["run"].id


def test_lineage_of_a_diamond(alice_api, diamond):
    kit = alice_api.get(f"/api/v3/documents/{diamond['kit'].id}/lineage").json()
    assert kit["document"]["id"] == diamond["kit"].id
    assert [(d["step_key"], d["depth"]) for d in kit["ancestors"]] == [
        ("blog", 1),
        ("news", 1),
        ("brief", 2),
    ]
    assert kit["descendants"] == [] and kit["truncated"] is False
    ids = {key: diamond[key].id for key in ("brief", "blog", "news", "kit")}
    assert sorted(map(tuple, kit["edges"])) == sorted(
        [
            (ids["blog"], ids["brief"]),
            (ids["news"], ids["brief"]),
            (ids["kit"], ids["blog"]),
            (ids["kit"], ids["news"]),
        ]
    )
    brief = alice_api.get(f"/api/v3/documents/{diamond['brief'].id}/lineage/").json()
    assert brief["ancestors"] == []
    assert [(d["step_key"], d["depth"]) for d in brief["descendants"]] == [
        ("blog", 1),
        ("news", 1),
        ("kit", 2),
    ]
    blog = alice_api.get(f"/api/v3/documents/{diamond['blog'].id}/lineage").json()
    assert [d["step_key"] for d in blog["ancestors"]] == ["brief"]
    assert [d["step_key"] for d in blog["descendants"]] == ["kit"]


def test_lineage_of_a_long_chain_is_iterative_and_bounded(user, workspace):
    run = make_run(make_workflow(user, workspace))
    # Deeper than Python's recursion limit.
    Document.objects.bulk_create(
        Document(workspace=workspace, run=run, step_key=f"s{i}", title=f"s{i}") for i in range(1500)
    )
    chain = list(Document.objects.filter(run=run).order_by("id"))
    links = Document.parents.through
    links.objects.bulk_create(
        links(from_document_id=child.id, to_document_id=parent.id)
        for parent, child in zip(chain, chain[1:], strict=False)
    )
    found = selectors.lineage(Actor(user), chain[-1], limit=2000)
    assert len(found.ancestors) == 1499 and not found.truncated
    assert found.depth[chain[0].id] == 1499
    cut = selectors.lineage(Actor(user), chain[-1], limit=100)
    assert len(cut.ancestors) == 100 and cut.truncated


def test_filters(alice_api, diamond, user, workspace):
    other_run = make_run(diamond["workflow"])
    make_document(other_run, "brief", content="Second run")
    url = "/api/v3/documents/"
    assert alice_api.get(url).json()["count"] == 5
    assert alice_api.get(url, {"run": diamond["run"].id}).json()["count"] == 4
    assert alice_api.get(url, {"step": "brief"}).json()["count"] == 2
    assert alice_api.get(url, {"workflow": diamond["workflow"].id}).json()["count"] == 5
    assert alice_api.get(url, {"workflow": diamond["workflow"].id + 1000}).json()["count"] == 0


def test_search_ranks_on_postgresql_and_matches_elsewhere(alice_api, diamond):
    url = "/api/v3/documents/"
    found = alice_api.get(url, {"q": "kettles"}).json()["results"]
    assert {d["step_key"] for d in found} == {"brief", "blog", "news"}
    assert alice_api.get(url, {"q": "kettles tea"}).json()["results"][0]["step_key"] == "news"
    assert alice_api.get(url, {"q": "unicorns"}).json()["count"] == 0
    if connection.vendor == "postgresql":
        # Stemming ("boils" finds "boiling") and title matches rank above content matches.
        assert [d["step_key"] for d in alice_api.get(url, {"q": "boils"}).json()["results"]] == [
            "blog"
        ]
        Document.objects.filter(pk=diamond["kit"].pk).update(title="Solar kettle kit")
        ranked = alice_api.get(url, {"q": "kettle"}).json()["results"]
        assert ranked[0]["step_key"] == "kit"


def test_search_keeps_to_the_callers_workspaces_and_the_other_filters(
    alice_api, client_for, diamond, other_user, other_workspace
):
    their_run = make_run(make_workflow(other_user, other_workspace))
    theirs = make_document(their_run, "brief", content="Their solar kettles")
    url = "/api/v3/documents/"
    found = alice_api.get(url, {"q": "solar kettles"}).json()["results"]
    assert {d["id"] for d in found} == {diamond["brief"].id, diamond["blog"].id}
    mallory = client_for(other_user).get(url, {"q": "solar kettles"}).json()["results"]
    assert [d["id"] for d in mallory] == [theirs.id]
    in_news = alice_api.get(url, {"q": "kettles", "step": "news"}).json()["results"]
    assert [d["step_key"] for d in in_news] == ["news"]
    assert alice_api.get(url, {"q": "   "}).json()["count"] == 4


def test_search_syntax_and_tie_order_on_postgresql(alice_api, diamond):
    if connection.vendor != "postgresql":
        pytest.skip("web-search syntax and ranking: PostgreSQL only")
    url = "/api/v3/documents/"

    def keys(q):
        return [d["step_key"] for d in alice_api.get(url, {"q": q}).json()["results"]]

    # Equal ranks: newest first, as without a search.
    assert keys("kettles") == ["news", "blog", "brief"]
    assert keys('"kettles boiling"') == ["blog"]
    assert keys("kettles -solar") == ["news"]
    assert keys("tea or boiling") == ["news", "blog"]
    # Stop words only, or stray operators: nothing found, not an error.
    assert keys("the") == [] and keys('"(&!:*') == []


def test_other_workspaces_documents_are_404(client_for, other_user, diamond):
    mallory = client_for(other_user)
    assert_error(mallory.get(f"/api/v3/documents/{diamond['kit'].id}/"), 404, "not_found")
    assert_error(mallory.get(f"/api/v3/documents/{diamond['kit'].id}/lineage"), 404)
    assert_error(mallory.get(f"/api/v3/runs/{diamond['run'].id}/documents/"), 404)
    assert mallory.get("/api/v3/documents/").json()["count"] == 0


def test_documents_are_read_only(alice_api, client_for, other_user, diamond, workspace, add_member):
    add_member(workspace, other_user, Role.VIEWER)
    assert client_for(other_user).get("/api/v3/documents/").json()["count"] == 4
    url = f"/api/v3/documents/{diamond['kit'].id}/"
    assert_error(alice_api.delete(url), 405)
    assert_error(alice_api.post("/api/v3/documents/", {}, format="json"), 405)
