"""The hash chains that make audit rows tamper-evident.

Each change-log row and security event belongs to one chain: its workspace's (`w:<id>`), or,
for account events without a workspace, its user's (`u:<id>`); events that name no known
account go to `anon`. A row stores its place (`seq`), the previous row's hash and its own:
SHA-256 over the previous hash and the row's canonical content (sorted-key JSON). Writers of
a chain are serialized, so they cannot fork it: on PostgreSQL by the head's row lock, which
the one-statement append (`insert_linked`) takes by moving the head, and the locked way
(`link`, a chain's first row) by `pg_advisory_xact_lock` and then the head's row lock, both
held to the end of the writer's transaction; SQLite serializes writers anyway. `ChainHead`
keeps each chain's last link, so deleting the newest rows shows too, and the signed checkpoint
retention leaves when it deletes the oldest.
"""

import functools
import hashlib
import hmac
import json
import secrets
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

GENESIS = "0" * 64
ANONYMOUS_CHAIN = "anon"


def workspace_chain(workspace_id: int) -> str:
    return f"w:{workspace_id}"


def user_chain(user_id: int) -> str:
    return f"u:{user_id}"


def chain_for(*, workspace_id: int | None, user_id: int | None) -> str:
    if workspace_id is not None:
        return workspace_chain(workspace_id)
    if user_id is not None:
        return user_chain(user_id)
    return ANONYMOUS_CHAIN


def json_round_trip(value):
    """What a JSON column gives back for `value`: hash what will be read, not what was given."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_bytes(content: dict) -> bytes:
    return json.dumps(
        content, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def row_hash(prev_hash: str, content: dict) -> str:
    digest = hashlib.sha256(prev_hash.encode())
    digest.update(canonical_bytes(content))
    return digest.hexdigest()


def _lock_key(chain: str) -> int:
    # A signed 64-bit key from the chain's name (pg advisory locks take a bigint).
    return int.from_bytes(hashlib.sha256(chain.encode()).digest()[:8], "big", signed=True)


def lock(chain: str) -> None:
    """Serialize writers of one chain until the current transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key(chain)])


def link(row) -> None:
    """Give an unsaved row (`row.chain` set) its seq, prev_hash and hash, and move the chain's
    head to it. Call inside a transaction that then inserts the row."""
    link_many([row])


def append(row) -> None:
    """Link an unsaved row and insert it; a failure rolls back only the row (a savepoint when
    the caller is in a transaction). On PostgreSQL one statement (`insert_linked`): the path
    of every security event, which must cost a request about a millisecond."""
    in_transaction = transaction.get_connection().in_atomic_block
    with transaction.atomic() if in_transaction else nullcontext():
        if insert_linked(row):
            return
    with transaction.atomic():
        link(row)
        row.save(force_insert=True)


def link_many(rows) -> None:
    """`link` for many unsaved rows (`row.chain` set): one lock, one head read and one head
    write per chain, whatever the number of rows, which take their places in the order given.
    Call inside a transaction that then inserts the rows (e.g. in one bulk insert)."""
    from audit.models import ChainHead

    by_chain: dict[str, list] = {}
    for row in rows:
        by_chain.setdefault(row.chain, []).append(row)
    # Chains locked in one order, so two writers that share chains cannot deadlock.
    for name in sorted(by_chain):
        head = _lock_head(name)
        seq, prev_hash = head if head else (0, GENESIS)
        for row in by_chain[name]:
            seq += 1
            _link_after(row, seq, prev_hash)
            prev_hash = row.hash
        last = by_chain[name][-1]
        if head:
            ChainHead.objects.filter(chain=name).update(
                seq=seq, prev_hash=last.prev_hash, hash=last.hash
            )
        else:
            ChainHead.objects.create(chain=name, seq=seq, prev_hash=last.prev_hash, hash=last.hash)


def _lock_head(name: str) -> tuple[int, str] | None:
    """Take the chain's lock (to the end of the transaction); its head's (seq, hash)."""
    from audit.models import ChainHead

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit rows are linked inside a transaction")
    lock(name)
    # The head's row lock too: `insert_linked` writers serialize on it, not on the advisory lock.
    heads = ChainHead.objects.select_for_update().filter(chain=name)
    return heads.values_list("seq", "hash").first()


def _link_after(row, seq: int, prev_hash: str) -> None:
    row.seq, row.prev_hash = seq, prev_hash
    _normalize_fields(row)
    row.hash = row_hash(prev_hash, row.canonical())


# Stands for the seq in a row's canonical JSON while PostgreSQL fills it in: random, so no
# content can spell it.
_SEQ_HOLE = f"seq-{secrets.token_hex(16)}"
_SEQ_HOLE_JSON = json.dumps(_SEQ_HOLE).encode()
_CHAIN_FIELDS = ("seq", "prev_hash", "hash")


def insert_linked(row) -> bool:
    """Link and insert an unsaved row in ONE statement (PostgreSQL; False elsewhere, and when
    the chain has no head yet: its first row takes the locked way, `link`).

    The statement moves the chain's head (its row lock serializes writers: a concurrent one
    waits, then sees the new head) and computes the row's hash from the old head's hash there:
    SHA-256 over that hash, then the row's canonical JSON, which Python builds with a hole
    where the seq goes. The same hash as `row_hash`, without a round trip to read the head."""
    if connection.vendor != "postgresql":
        return False
    _normalize_fields(row)
    row.seq = _SEQ_HOLE
    before, hole, after = canonical_bytes(row.canonical()).partition(_SEQ_HOLE_JSON)
    row.seq = None
    if not hole or _SEQ_HOLE_JSON in after:
        return False
    fields, sql = _insert_linked_sql(type(row))
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [before, after, row.chain, *values])
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk, row.seq, row.prev_hash, row.hash = inserted
    row._state.adding, row._state.db = False, connection.alias
    return True


@functools.cache
def _insert_linked_sql(model) -> tuple[list, str]:
    """The fields `insert_linked` writes and its statement, once per model."""
    from audit.models import ChainHead

    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and field.attname not in _CHAIN_FIELDS
    ]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # Typed, since INSERT ... SELECT does not take its columns' types for bare parameters.
    casts = ", ".join(f"CAST(%s AS {field.db_type(connection)})" for field in fields)
    sql = (  # names from the models' metadata; every value is a parameter
        f"WITH head AS (UPDATE {quote(ChainHead._meta.db_table)}"  # noqa: S608
        " SET seq = seq + 1, prev_hash = hash, updated_at = now(),"
        " hash = encode(sha256(convert_to(hash, 'UTF8') || %s"
        " || convert_to((seq + 1)::text, 'UTF8') || %s), 'hex')"
        " WHERE chain = %s RETURNING seq, prev_hash, hash)"
        f" INSERT INTO {quote(model._meta.db_table)} ({columns}, seq, prev_hash, hash)"
        f" SELECT {casts}, head.seq, head.prev_hash, head.hash FROM head"
        f" RETURNING {quote(model._meta.pk.column)}, seq, prev_hash, hash"
    )
    return fields, sql


def _normalize_fields(row) -> None:
    """Give each field the value it will have when read back (an int object_pk is stored as
    text, JSON loses tuples and Decimals), so the hash is of what the database keeps."""
    for field in row._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        value = getattr(row, field.attname)
        if value is None:
            continue
        if field.get_internal_type() == "JSONField":
            setattr(row, field.attname, json_round_trip(value))
        else:
            setattr(row, field.attname, field.to_python(value))


# --- Checkpoints (retention) -----------------------------------------------------------------


def checkpoint_signature(chain: str, seq: int, hash_: str) -> str:
    key = hashlib.sha256(f"audit-checkpoint:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{chain}:{seq}:{hash_}".encode(), hashlib.sha256).hexdigest()


# --- Verification ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    chain: str
    table: str  # "log" | "event" | "head"
    row_id: int | None
    seq: int | None
    reason: str  # edited | deleted | reordered | head_mismatch | bad_checkpoint

    def describe(self) -> str:
        what = {"log": "audit log entry", "event": "security event", "head": "chain head"}
        row = (
            f"{what[self.table]} id={self.row_id} seq={self.seq}"
            if self.row_id
            else what[self.table]
        )
        return f"chain {self.chain}: {row}: {self.reason}"


def _rows(model, chain: str):
    return model.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)


def verify_chain(chain: str) -> Problem | None:
    """Walk one chain in seq order across both tables; the first problem, or None."""
    import heapq

    from audit.models import AuditLogEntry, ChainHead, SecurityEvent

    head = ChainHead.objects.filter(chain=chain).first()
    expected_seq, prev_hash = 1, GENESIS
    if head is not None and head.checkpoint_seq:
        signature = checkpoint_signature(chain, head.checkpoint_seq, head.checkpoint_hash)
        if not hmac.compare_digest(signature, head.checkpoint_signature):
            return Problem(chain, "head", None, head.checkpoint_seq, "bad_checkpoint")
        expected_seq, prev_hash = head.checkpoint_seq + 1, head.checkpoint_hash

    tagged = [
        ((row.seq, "log", row) for row in _rows(AuditLogEntry, chain)),
        ((row.seq, "event", row) for row in _rows(SecurityEvent, chain)),
    ]
    for seq, table, row in heapq.merge(*tagged, key=lambda item: item[0]):
        if row_hash(row.prev_hash, row.canonical()) != row.hash:
            return Problem(chain, table, row.pk, seq, "edited")
        if seq < expected_seq:  # a second row claiming a place already taken
            return Problem(chain, table, row.pk, seq, "reordered")
        if seq > expected_seq:
            missing = f"seq {expected_seq}" + (f"..{seq - 1}" if seq - 1 > expected_seq else "")
            return Problem(chain, table, row.pk, seq, f"deleted ({missing} missing before it)")
        if row.prev_hash != prev_hash:
            return Problem(chain, table, row.pk, seq, "edited (does not link to the row before)")
        expected_seq, prev_hash = seq + 1, row.hash
    if head is None:
        return None if expected_seq == 1 else Problem(chain, "head", None, None, "head_missing")
    if head.seq != expected_seq - 1 or head.hash != prev_hash:
        return Problem(chain, "head", None, head.seq, "deleted (the newest rows)")
    return None


def chains(*, workspace_id: int | None = None) -> list[str]:
    from audit.models import AuditLogEntry, ChainHead, SecurityEvent

    if workspace_id is not None:
        return [workspace_chain(workspace_id)]
    names = set(ChainHead.objects.values_list("chain", flat=True))
    names |= set(AuditLogEntry.objects.values_list("chain", flat=True).distinct())
    names |= set(SecurityEvent.objects.values_list("chain", flat=True).distinct())
    return sorted(names)


def verify(*, workspace_id: int | None = None) -> tuple[int, list[Problem]]:
    """Verify every chain (or one workspace's); (chains checked, first problem of each bad one)."""
    names = chains(workspace_id=workspace_id)
    problems = [problem for name in names if (problem := verify_chain(name)) is not None]
    return len(names), problems
