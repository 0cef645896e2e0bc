"""Search URLs under /api/v3/ (included before the router, so `documents/search` is never
read as a document id)."""

from django.urls import re_path

from search import api

urlpatterns = [
    re_path(r"^documents/search/?$", api.DocumentSearchView.as_view(), name="document-search"),
    re_path(
        r"^documents/(?P<pk>\d+)/related/?$",
        api.RelatedDocumentsView.as_view(),
        name="document-related",
    ),
]
