"""Pages with what Django's paginator gives, in fewer queries: every list reads its page first
and counts only when the page does not tell the total (PageFirstPaginator); the workflow list
has the total in the page's own query (CountInPagePaginator, COUNT(*) OVER ())."""

import pytest
from django.core.paginator import EmptyPage, PageNotAnInteger

from accounts.models import Workspace
from config.api.pagination import CountInPagePaginator, PageFirstPaginator
from workflows.models import Workflow
from workflows.tests.factories import make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspaces(make_user):
    for n in range(5):
        make_user(f"pager{n}")  # each gets a personal workspace
    return Workspace.objects.order_by("pk")


def test_a_page_and_its_total_are_one_query(workspaces, django_assert_num_queries):
    paginator = CountInPagePaginator(workspaces, 2)
    with django_assert_num_queries(1):
        page = paginator.page(2)
        assert paginator.count == 5
        assert paginator.num_pages == 3
        assert page.has_next() and page.has_previous()
    assert [w.pk for w in page] == [w.pk for w in workspaces[2:4]]
    last = CountInPagePaginator(workspaces, 2).page("3")
    assert len(last) == 1 and not last.has_next() and last.paginator.count == 5


def test_page_first_counts_only_a_full_page(workspaces, django_assert_num_queries):
    with django_assert_num_queries(1):  # the last page tells the total
        last = PageFirstPaginator(workspaces, 2).page(3)
        assert last.paginator.count == 5 and not last.has_next() and last.has_previous()
    with django_assert_num_queries(1):  # a list that fits in one page
        only = PageFirstPaginator(workspaces, 10).page(1)
        assert only.paginator.count == 5 and only.paginator.num_pages == 1
    with django_assert_num_queries(2):  # a full page: the COUNT, when the total is asked for
        full = PageFirstPaginator(workspaces, 2).page(2)
        assert full.paginator.count == 5 and full.has_next()
    assert [w.pk for w in full] == [w.pk for w in workspaces[2:4]]
    with pytest.raises(EmptyPage):
        PageFirstPaginator(workspaces, 2).page(4)
    empty = PageFirstPaginator(Workspace.objects.none().order_by("pk"), 2)
    assert list(empty.page(1)) == [] and empty.count == 0


def test_past_the_end_bad_numbers_and_an_empty_first_page(workspaces):
    with pytest.raises(EmptyPage):
        CountInPagePaginator(workspaces, 2).page(4)
    with pytest.raises(EmptyPage):
        CountInPagePaginator(workspaces, 2).page(0)
    with pytest.raises(EmptyPage):  # an offset no database takes: refused before the query
        CountInPagePaginator(workspaces, 2).page("99999999999999999999")
    for bad in ("x", 1.5, None):
        with pytest.raises(PageNotAnInteger):
            CountInPagePaginator(workspaces, 2).page(bad)
    empty = CountInPagePaginator(Workspace.objects.none().order_by("pk"), 2)
    assert list(empty.page(1)) == [] and empty.count == 0 and empty.num_pages == 1
    strict = CountInPagePaginator(
        Workspace.objects.none().order_by("pk"), 2, allow_empty_first_page=False
    )
    with pytest.raises(EmptyPage):
        strict.page(1)


@pytest.mark.parametrize(
    "listing",
    [
        lambda qs: qs.filter(memberships__role__in=["owner", "viewer"]).distinct(),
        lambda qs: qs.values("pk", "name"),
        lambda qs: list(qs),
    ],
    ids=["distinct", "values", "list"],
)
def test_what_the_window_cannot_count_is_counted_apart(workspaces, listing):
    rows = listing(workspaces)
    page = CountInPagePaginator(rows, 2).page(3)
    assert page.paginator.count == 5 and len(page) == 1
    assert "page_total_rows" not in (page[0] if isinstance(page[0], dict) else {})


def test_the_workflow_list_is_the_user_and_one_query(
    client_for, user, workspace, django_assert_num_queries
):
    for _ in range(3):
        make_workflow(user, workspace)
    api = client_for(user)
    api.get("/api/v3/workflows/")  # the first request caches the caller's security policy
    with django_assert_num_queries(1):  # force_authenticate: no user query
        body = api.get("/api/v3/workflows/?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2
    assert body["next"].endswith("page=2&page_size=2") and body["previous"] is None
    newest = Workflow.objects.order_by("-updated_at", "-id").first()
    assert body["results"][0]["id"] == newest.pk
    assert body["results"][0]["created_by"] == user.username
    second = api.get(body["next"]).json()
    assert second["count"] == 3 and len(second["results"]) == 1 and second["next"] is None
    for page in ("3", "99999999999999999999", "0", "x"):
        gone = api.get(f"/api/v3/workflows/?page_size=2&page={page}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found", page
