import pytest

from search import services
from search.tests.labelled import DOCUMENTS
from workflows.tests.factories import make_document, make_run, make_workflow


@pytest.fixture
def write_documents():
    """Documents in a run of a fresh workflow of `user` in `workspace`; indexed unless told."""

    def write(user, workspace, documents: dict, *, index=True, name="Library"):
        run = make_run(make_workflow(user, workspace, {**_DEFINITION, "name": name}))
        made = {
            key: make_document(run, key.replace("-", "_"), title=title, content=content)
            for key, (title, content) in documents.items()
        }
        if index:
            services.index_documents(document_ids=[doc.pk for doc in made.values()])
        return made

    return write


@pytest.fixture
def library(write_documents, user, workspace):
    """The labelled set, indexed, in alice's workspace."""
    return write_documents(user, workspace, DOCUMENTS)


_DEFINITION = {"name": "", "steps": [{"key": "note", "kind": "transform", "prompt": "x"}]}
