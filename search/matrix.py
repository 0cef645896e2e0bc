"""The numpy path's vectors: the chunk matrix of a set of workspaces for one model, loaded
once per process and loaded again whenever the index changed (its row count or newest id
moved: indexing replaces chunks with new rows), so a query costs one small aggregate and a
matrix product instead of fetching every vector. About 1 KB per chunk (256 float32s); the
newest MAX_ENTRIES matrices are kept."""

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.db import connections
from django.db.models import Count, Max

from search.models import DocumentChunk

MAX_ENTRIES = 8
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Matrix:
    version: tuple
    doc_ids: np.ndarray
    chunk_ids: np.ndarray
    vectors: np.ndarray  # (chunks, dimensions), unit rows


def load(alias: str, workspace_ids: list[int], model: str, dimensions: int) -> Matrix:
    chunks = DocumentChunk.objects.using(alias).filter(
        workspace_id__in=workspace_ids, model=model, dimensions=dimensions
    )
    totals = chunks.aggregate(n=Count("id"), last=Max("id"))
    version = (totals["n"], totals["last"])
    key = (alias, connections[alias].settings_dict["NAME"], tuple(sorted(workspace_ids)), model)
    key = (*key, dimensions)
    with _lock:
        found = _cache.get(key)
        if found is not None and found.version == version:
            _cache.move_to_end(key)
            return found
    rows = list(chunks.order_by("id").values_list("document_id", "pk", "embedding"))
    matrix = Matrix(
        version=version,
        doc_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
        chunk_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
        vectors=(
            np.vstack([r[2] for r in rows]) if rows else np.zeros((0, dimensions), dtype=np.float32)
        ),
    )
    with _lock:
        _cache[key] = matrix
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return matrix
