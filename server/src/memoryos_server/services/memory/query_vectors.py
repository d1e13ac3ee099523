"""A search's query vector: started as soon as the request is authenticated, and remembered for
the one who asked.

**Started early.** The retrieve routes start embedding the query (``QueryVectors.start``) once
the caller is authenticated and the body read, in a small pool of threads, before the request
resolves its end-user, opens its session and reads the owner's index state; the search waits
for the vector only when its dense read needs it (``PendingVector.result``). The model runs
outside the GIL, so its few milliseconds overlap those round trips instead of following them
(docs/benchmarks.md, "Query embedding started early": 13–15% off a PostgreSQL search's median
and p95, less on SQLite, whose reads share the cores with the model). When every thread of the
pool is busy (a slow remote embedder, a burst), the vector is computed in the request's own
thread when the search needs it, as before: nothing queues behind the pool. A request that ends
before its search (refused, an end-user never seen) cancels its vector if it has not started
(``PendingVector.cancel``, at the end of every retrieve request).

**Remembered per asker.** A company's backend often asks the same question for many end-users
("what does the user prefer?"). The vector of a query is kept for the asker who asked it and
reused for no one else:

- a tenant's backend (its API keys and OAuth clients, whichever asks: one asker, as for its
  idempotency keys), and a dashboard member on their own (``principal_asker``);
- a passport agent over REST (one key, one operator): ``agent_asker``; a client over MCP: that
  client for that one person (``mcp_asker``), since many people may use one MCP client.

So an asker learns from the time an answer takes only whether *it* asked that question recently,
never what another tenant, member, agent or person asked or stored (the shared vector cache
this replaces leaked exactly that; docs/security.md). The store holds query texts' vectors
only, never those of stored memories, keyed by a digest of the text (the text itself is not
kept), and is bounded (``REMEMBERED`` vectors in all, least recently used dropped first: another
asker's volume can push an asker's vectors out, which tells it how busy the server is and
nothing more).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from memoryos_server.engine.extraction.cached_embedder import remember
from memoryos_server.engine.types import Embedder
from memoryos_server.services.memory.ingest import embed_texts
from memoryos_server.services.principal import Principal

# Threads embedding queries ahead of their searches: the model's own intra-op threads use the
# cores, and a remote embedder past this many requests in flight is asked from the requests'
# own threads instead (each request waits for its own vector either way).
WORKERS = 4
# Query vectors kept across all askers (384 floats each: about 6 MB).
REMEMBERED = 4096

Key = tuple[str, str, bytes]  # (embedder, asker, digest of the query)


def principal_asker(principal: Principal) -> str | None:
    """A tenant's backend, whichever of its keys or OAuth clients asks; a dashboard member on
    their own (their memories are theirs alone, and so are their questions); no one for a
    caller without an organisation. Named by public ids, which are random and never reused (a
    database's integer id may come back after a deletion, with the vectors of its last holder)."""
    if principal.tenant_public_id is None:
        return None
    if principal.kind == "user":
        return f"member:{principal.tenant_public_id}:{principal.credential_id}"
    return f"tenant:{principal.tenant_public_id}"


def agent_asker(agent_id: object) -> str:
    """A passport agent over REST: one key, one operator, whichever person it asks for."""
    return f"agent:{agent_id}"


def mcp_asker(agent_id: object, person_id: object) -> str:
    """A client over MCP, for one person: one client (a metadata document's URL) may be used by
    many unrelated people, each choosing their own questions. ``person_id``: their public id."""
    return f"mcp:{agent_id}:{person_id}"


class PendingVector:
    """A query vector: being computed on the pool, known already, or to be computed by
    whoever first asks for it (``compute``)."""

    def __init__(self, future: Future[np.ndarray] | None = None, compute: Callable[[], np.ndarray] | None = None) -> None:
        self._future = future
        self._compute = compute
        self._vector: np.ndarray | None = None

    @classmethod
    def known(cls, vector: np.ndarray) -> PendingVector:
        pending = cls()
        pending._vector = vector
        return pending

    def result(self) -> np.ndarray:
        """The vector; the embedder's own error (a remote model that failed) is raised here."""
        if self._vector is None:
            if self._future is not None:
                self._vector = self._future.result()
            elif self._compute is not None:
                self._vector = self._compute()
            else:
                raise RuntimeError("a pending vector with nothing to compute")
        return self._vector

    def cancel(self) -> None:
        """Not wanted after all: a computation not yet started never runs."""
        if self._future is not None:
            self._future.cancel()
        self._compute = None


class QueryVectors:
    def __init__(self, embedder_of: Callable[[], Embedder], dim: int, *, remembered: int = REMEMBERED) -> None:
        self._embedder_of = embedder_of  # called lazily: the model loads on first use
        self.dim = dim
        self.remembered = remembered
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._in_flight = 0
        self._vectors: OrderedDict[Key, np.ndarray] = OrderedDict()

    def start(self, asker: str | None, query: str) -> PendingVector:
        """The vector of ``query``, started now (or computed when first wanted, if every thread
        is busy); remembered for ``asker`` (None: for no one)."""
        embedder = self._embedder_of()
        key = self._key(embedder, asker, query)
        with self._lock:
            vector = self._remembered(key)
            if vector is not None:
                return PendingVector.known(vector)
            if self._closed or self._in_flight >= WORKERS:
                return PendingVector(compute=lambda: self._embed(embedder, key, query))
            self._in_flight += 1
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="query-vector")
            pool = self._pool
        future = pool.submit(self._embed, embedder, key, query)
        future.add_done_callback(self._finished)
        return PendingVector(future)

    def now(self, asker: str | None, query: str) -> np.ndarray:
        """The vector of ``query``, computed in this thread unless ``asker`` has it already."""
        embedder = self._embedder_of()
        key = self._key(embedder, asker, query)
        with self._lock:
            vector = self._remembered(key)
        return vector if vector is not None else self._embed(embedder, key, query)

    def forget(self) -> None:
        """Drop every remembered vector (benchmarks that time cold queries)."""
        with self._lock:
            self._vectors.clear()

    def close(self) -> None:
        """Stop the pool (with the app); later vectors are computed in their requests' threads."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _finished(self, _future: Future[np.ndarray]) -> None:
        with self._lock:
            self._in_flight -= 1

    def _remembered(self, key: Key | None) -> np.ndarray | None:
        """Under the lock."""
        vector = self._vectors.get(key) if key is not None else None
        if vector is not None:
            self._vectors.move_to_end(key)  # type: ignore[arg-type]
        return vector

    @staticmethod
    def _key(embedder: Embedder, asker: str | None, query: str) -> Key | None:
        if asker is None:
            return None
        digest = hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        return (embedder.name, asker, digest)

    def _embed(self, embedder: Embedder, key: Key | None, query: str) -> np.ndarray:
        vector = embed_texts(embedder, [query], self.dim)[0]
        vector.setflags(write=False)  # shared by every search of this asker that asks it again
        if key is not None:
            with self._lock:
                remember(self._vectors, {key: vector}, self.remembered)
        return vector
