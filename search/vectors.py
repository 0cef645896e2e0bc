"""Where vectors live: a pgvector `vector` column when the database has the extension (then
PostgreSQL ranks with an HNSW index, cosine), else raw float32 bytes ranked exactly in numpy.

The column's type is chosen when its table is created (the migration creates the extension
first where the server offers it), and read back from the catalog afterwards, so the code
always matches the column that really exists.
"""

import numpy as np
from django.db import connections, models

TABLE = "search_documentchunk"
# The HNSW index covers the offline model's vectors (a pgvector index needs one dimension);
# vectors of other sizes are ranked exactly by the same query, without the index.
INDEXED_DIMENSIONS = 256
_column_is_vector: dict[str, bool] = {}


def extension_available(connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        return cursor.fetchone() is not None


def extension_installed(connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        return cursor.fetchone() is not None


def uses_pgvector(alias: str = "default") -> bool:
    """True when the chunk table's embedding column is a pgvector `vector`."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return False
    key = f"{alias}:{connection.settings_dict['NAME']}"
    if key not in _column_is_vector:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT udt_name FROM information_schema.columns "
                "WHERE table_name = %s AND column_name = 'embedding'",
                [TABLE],
            )
            row = cursor.fetchone()
        if row is None:
            return extension_installed(connection)  # not migrated yet: do not remember
        _column_is_vector[key] = row[0] == "vector"
    return _column_is_vector[key]


def to_text(vector: np.ndarray) -> str:
    """pgvector's text form, '[0.1,0.2,...]'."""
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32)) + "]"


class EmbeddingField(models.Field):
    """A float32 vector: pgvector's `vector` where the extension is installed, bytes elsewhere.
    Python side it is always a 1-d numpy array."""

    description = "An embedding vector"

    def db_type(self, connection):
        if extension_installed(connection):
            return "vector"
        return models.BinaryField().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        array = np.asarray(value, dtype=np.float32)
        if uses_pgvector(connection.alias):
            return to_text(array)
        return models.BinaryField().get_db_prep_value(array.tobytes(), connection)

    def from_db_value(self, value, expression, connection):
        return parse(value)


def parse(value) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, str):  # pgvector's text form
        return np.array([float(x) for x in value.strip("[]").split(",") if x], dtype=np.float32)
    if isinstance(value, np.ndarray):
        return value.astype(np.float32)
    return np.frombuffer(bytes(value), dtype=np.float32)
