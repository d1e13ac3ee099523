"""A search's query vector: started as soon as the request is authenticated, and remembered for
the caller who asked.

**Started early.** The retrieve routes start embedding the query (``QueryVectors.start``) once
the caller is authenticated and the body read, in a small pool of threads, before the request
resolves its end-user, opens its session and reads the owner's index state; the search waits
for the vector only when its dense read needs it (``PendingVector.result``). The model runs
outside the GIL, so its few milliseconds overlap those round trips instead of following them
(measured: docs/benchmarks.md, "Query embedding started early").

**Remembered per caller.** An agent or a company's backend often asks the same question for
many end-users ("what does the user prefer?"). The vector of a query is kept for the caller
who asked it — one tenant's backend, whichever key it uses, or one passport agent — and for
no one else: a caller learns from the time an answer takes only whether *it* asked that
question recently, never what another tenant or agent asked or stored (the shared vector cache
this replaces leaked exactly that; docs/security.md). The store holds query texts' vectors only,
never those of stored memories, keyed by a digest of the text (the text itself is not kept),
and is bounded (``REMEMBERED`` vectors in all, least recently used dropped first: another
caller's volume can push a caller's vectors out, which tells it how busy the server is and
nothing more).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from memoryos_server.engine.types import Embedder
from memoryos_server.services.memory.ingest import embed_texts

# Threads embedding queries at once: the model's own intra-op threads use the cores; more
# threads than requests in flight would only queue inside the runtime.
WORKERS = 4
# Query vectors kept across all callers (384 floats each: about 6 MB).
REMEMBERED = 4096


def tenant_asker(tenant_id: int | None) -> str | None:
    """Whose remembered queries a tenant's backend uses: the tenant's, whichever key asks (as
    its idempotency keys are); none for a caller without an organisation."""
    return None if tenant_id is None else f"tenant:{tenant_id}"


def agent_asker(agent_id: object) -> str:
    """A passport agent's own (REST or MCP), whichever person it asks for."""
    return f"agent:{agent_id}"


class PendingVector:
    """A query vector being computed (or already known)."""

    def __init__(self, future: Future[np.ndarray]) -> None:
        self._future = future

    @classmethod
    def known(cls, vector: np.ndarray) -> PendingVector:
        future: Future[np.ndarray] = Future()
        future.set_result(vector)
        return cls(future)

    def result(self) -> np.ndarray:
        """The vector; the embedder's own error (a remote model that failed) is raised here."""
        return self._future.result()


class QueryVectors:
    def __init__(self, embedder_of: Callable[[], Embedder], dim: int, *, remembered: int = REMEMBERED) -> None:
        self._embedder_of = embedder_of  # called lazily: the model loads on first use
        self.dim = dim
        self.remembered = remembered
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._vectors: OrderedDict[tuple[str, str, bytes], np.ndarray] = OrderedDict()

    def start(self, caller: str | None, query: str) -> PendingVector:
        """The vector of ``query``, started now; remembered for ``caller`` (None: not at all)."""
        key = self._key(caller, query)
        if key is not None:
            with self._lock:
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                    return PendingVector.known(vector)
        return PendingVector(self._executor().submit(self._embed, key, query))

    def now(self, caller: str | None, query: str) -> np.ndarray:
        """The vector of ``query``, computed in this thread unless ``caller`` has it already."""
        key = self._key(caller, query)
        if key is not None:
            with self._lock:
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                    return vector
        return self._embed(key, query)

    def forget(self) -> None:
        """Drop every remembered vector (benchmarks that time cold queries)."""
        with self._lock:
            self._vectors.clear()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _key(self, caller: str | None, query: str) -> tuple[str, str, bytes] | None:
        if caller is None:
            return None
        digest = hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        return (self._embedder_of().name, caller, digest)

    def _embed(self, key: tuple[str, str, bytes] | None, query: str) -> np.ndarray:
        vector = embed_texts(self._embedder_of(), [query], self.dim)[0]
        vector.setflags(write=False)  # shared by every search of this caller that asks it again
        if key is not None:
            with self._lock:
                self._vectors[key] = vector
                self._vectors.move_to_end(key)
                while len(self._vectors) > self.remembered:
                    self._vectors.popitem(last=False)
        return vector

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="query-vector")
            return self._pool
