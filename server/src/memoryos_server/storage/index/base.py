"""The search index every backend provides: dense (cosine) and keyword (BM25) top-k."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np
from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from memoryos_server.storage.index.filters import (  # noqa: F401 — re-exported
    ALL_CATEGORIES_MASK,
    CATEGORY_CODES,
    DEFAULT_BM25,
    UNKNOWN_CATEGORY,
    BM25Weights,
    SearchFilter,
    categories_of,
    category_mask,
)

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

Hit = tuple[str, float]  # (memory id, score): best first in every list


class KeywordRead(NamedTuple):
    """What one read of the keyword postings gives a search (``SearchIndex.keyword``)."""

    hits: list[Hit]
    window: list[Hit]  # the best of the rows scored whose moment falls in a period the query names
    present: frozenset[int]  # the probed terms some admitted row holds


class SearchIndex(Protocol):
    def prepare(self, session: Session, family: MemoryFamily, where: SearchFilter, k: int) -> None:
        """Before a search that reads both signals (``keyword``, then ``dense_and_similarities``
        for ``k`` rows): whatever the index can set up for it in one round trip (PostgreSQL
        reads the owner's index state and sets the graph walk in the same statement)."""
        ...

    def dense(
        self, session: Session, family: MemoryFamily, where: SearchFilter, queries: np.ndarray, k: int
    ) -> list[list[Hit]]:
        """For each query vector (rows of ``queries``, unit length), the ``k`` nearest rows
        that ``where`` admits, with their cosine similarity."""
        ...

    def keyword(
        self,
        session: Session,
        family: MemoryFamily,
        where: SearchFilter,
        terms: Sequence[int],
        k: int,
        spans: Sequence[tuple[datetime, datetime]] = (),
        window_k: int = 0,
        *,
        probe: Sequence[int] = (),
        weights: BM25Weights = DEFAULT_BM25,
    ) -> KeywordRead:
        """One read of the keyword postings:

        - ``hits``: the ``k`` best rows by BM25 over keyed term hashes (distinct, as the query
          gave them). Scores are BM25 divided by the query's ceiling, ``Σ idf · (k1 + 1)`` over
          the terms read: the score of a row holding all of them, many times, in a short text;
          a query term no row of the owner holds adds half the highest idf to it
          (``scoring.ceiling``). So a score is the share of the query a row matches (0..1),
          comparable from one query to the next.
        - ``window``: the ``window_k`` best of the rows scored whose moment (``valid_at``, else
          ``created_at``) falls in one of ``spans`` (``[start, end)``): the periods a query names.
        - ``present``: which of the ``probe`` terms (query terms or not) a row ``where`` admits
          holds, however common.
        """
        ...

    def dense_and_similarities(
        self,
        session: Session,
        family: MemoryFamily,
        where: SearchFilter,
        query: np.ndarray,
        k: int,
        also: Sequence[str],
    ) -> tuple[list[Hit], dict[str, float]]:
        """``dense`` for one query, and ``similarities`` of the rows of ``also`` (those not among
        the k, at least): a search's two reads of vectors, in one round trip where it costs one."""
        ...


def one_of(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """``column IN (values)``, on PostgreSQL written ``column = ANY(:array)``.

    An IN list is a different statement for every count of values, so PostgreSQL plans it
    afresh each time (about 2.5 ms on the memories table, with its HNSW index to cost, against
    well under 1 ms to run); one array parameter keeps the text fixed, and psycopg prepares
    a statement it has seen a few times, so it is planned once per connection.
    """
    distinct = list(dict.fromkeys(values))
    if session.get_bind().dialect.name == "postgresql":
        return any_of(column, values=distinct)
    return column.in_(distinct)


def one_of_param(session: Session, column: Any, name: str) -> Any:
    """``one_of`` with a named parameter (a list given at execution), for a statement built
    once and reused."""
    if session.get_bind().dialect.name == "postgresql":
        return any_of(column, name)
    return column.in_(bindparam(name, expanding=True))


def any_of(column: Any, name: str | None = None, *, values: list[Any] | None = None) -> Any:
    """``column = ANY(:array)`` (PostgreSQL): one array parameter, named (given at execution)
    or holding ``values``."""
    array = ARRAY(column.type)
    parameter = bindparam(name, type_=array) if values is None else bindparam(name, values, type_=array)
    return column == any_(parameter)


def by_key_of(column: Any, value: int) -> Any:
    """``column = value``, written so that no index on ``column`` serves it.

    For statements that also look rows up by primary key: SQLite keeps no statistics here
    and, given ``owner_id = ?``, walks every row of the owner in an owner index (100k rows
    for a big owner) instead of the few primary-key lookups. The filter itself still holds.
    """
    return (column + 0) == value
