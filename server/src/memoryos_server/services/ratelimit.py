"""Rate limits shared by every worker: database counters by default, Redis when configured.

Counters are kept per fixed window. A *sliding* limit also weighs the previous window by how
much of it still overlaps the last ``window_seconds`` (the sliding-window-counter estimate), so
a burst straddling a window boundary cannot get twice the limit through.

A refused hit is not counted: a client that keeps retrying while blocked is let in again as
soon as its earlier hits age out, no later.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.orm import Session

from memoryos_server.errors import RateLimited, ServiceUnavailable
from memoryos_server.storage.repositories.ratelimit import RateLimitRepository

if TYPE_CHECKING:
    import redis

    from memoryos_server.services.runtime import Runtime

T = TypeVar("T")

MAX_WINDOW_SECONDS = 86_400


class _Counters(Protocol):
    def increment(self, bucket: str, window_start: int, window_seconds: int, session: Session | None) -> int: ...

    def decrement(self, bucket: str, window_start: int, session: Session | None) -> None: ...

    def count(self, bucket: str, window_start: int, session: Session | None) -> int: ...

    def reset(self, bucket: str, session: Session | None) -> None: ...


class DatabaseCounters:
    """Counters in ``rate_limit_counters``.

    Without a session each call runs in its own short transaction; on SQLite never call it that
    way while holding a write session (the second writer would wait for the first). With a
    session the counter commits or rolls back with the caller's work.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def _run(self, session: Session | None, work: Callable[[RateLimitRepository], T]) -> T:
        if session is not None:
            return work(RateLimitRepository(session))
        with self.rt.db.session() as own:
            return work(RateLimitRepository(own))

    def increment(self, bucket: str, window_start: int, window_seconds: int, session: Session | None) -> int:
        def work(repo: RateLimitRepository) -> int:
            # Now and then, forget windows no limit can still weigh: older than two of the
            # longest windows allowed, whatever this bucket's own window is.
            if random.random() < 0.01:
                repo.prune(window_start - 2 * MAX_WINDOW_SECONDS)
            return repo.increment(bucket, window_start)

        return self._run(session, work)

    def decrement(self, bucket: str, window_start: int, session: Session | None) -> None:
        def work(repo: RateLimitRepository) -> None:
            repo.decrement(bucket, window_start)

        self._run(session, work)

    def count(self, bucket: str, window_start: int, session: Session | None) -> int:
        return self._run(session, lambda repo: repo.count(bucket, window_start))

    def reset(self, bucket: str, session: Session | None) -> None:
        self._run(session, lambda repo: repo.reset(bucket))


class RedisCounters:
    """Counters as Redis keys that expire on their own two windows later."""

    def __init__(self, url: str, *, prefix: str = "memoryos:rl:") -> None:
        self._url = url
        self._prefix = prefix
        self._client: redis.Redis | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import redis

                    self._client = redis.Redis.from_url(self._url, socket_timeout=2.0, socket_connect_timeout=2.0)
        return self._client

    def _key(self, bucket: str, window_start: int) -> str:
        return f"{self._prefix}{bucket}:{window_start}"

    def increment(self, bucket: str, window_start: int, window_seconds: int, session: Session | None) -> int:
        key = self._key(bucket, window_start)
        with self._errors():
            pipe = self.client.pipeline()
            pipe.incr(key)
            pipe.expire(key, 2 * window_seconds + 1)
            count, _ = pipe.execute()
        return int(count)

    def decrement(self, bucket: str, window_start: int, session: Session | None) -> None:
        with self._errors():
            self.client.decr(self._key(bucket, window_start))

    def count(self, bucket: str, window_start: int, session: Session | None) -> int:
        with self._errors():
            value = self.client.get(self._key(bucket, window_start))
        return int(value or 0)

    def reset(self, bucket: str, session: Session | None) -> None:
        with self._errors():
            keys = list(self.client.scan_iter(match=f"{self._prefix}{bucket}:*", count=100))
            if keys:
                self.client.delete(*keys)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @staticmethod
    @contextmanager
    def _errors() -> Iterator[None]:
        """A Redis outage is a 503: failing open would switch the limits off."""
        import redis

        try:
            yield
        except redis.RedisError as exc:
            raise ServiceUnavailable("the rate-limit store does not answer") from exc


class RateLimiter:
    def __init__(self, counters: _Counters, *, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self._clock = clock

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> RateLimiter:
        url = runtime.settings.redis_url
        return cls(RedisCounters(url) if url else DatabaseCounters(runtime))

    def hit(
        self,
        bucket: str,
        *,
        limit: int,
        window_seconds: int,
        sliding: bool = True,
        session: Session | None = None,
    ) -> int:
        """Count one event in ``bucket``; raise ``RateLimited`` (not counted) when over ``limit``.

        Returns how many more events the bucket allows now.
        """
        if not 1 <= window_seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(f"a rate-limit window is 1 s to {MAX_WINDOW_SECONDS} s")
        now = self._clock()
        window_start = int(now // window_seconds) * window_seconds
        elapsed = now - window_start
        current = self.counters.increment(bucket, window_start, window_seconds, session)
        previous = self.counters.count(bucket, window_start - window_seconds, session) if sliding else 0
        weight = (window_seconds - elapsed) / window_seconds
        estimate = previous * weight + current
        if estimate <= limit:
            return int(limit - estimate)
        self.counters.decrement(bucket, window_start, session)
        if not sliding:
            raise RateLimited(math.ceil(window_seconds - elapsed))
        # The estimate spreads the previous window's hits evenly and can ask for more than a whole
        # window; an exact log of hits never needs more than one, so that is the cap (a retry at
        # that moment may, rarely, be refused once more for a short while).
        raise RateLimited(min(window_seconds, _retry_after(limit, current - 1, previous, elapsed, window_seconds)))

    def refund(self, bucket: str, *, window_seconds: int, session: Session | None = None) -> None:
        """Take back one event ``hit`` counted in ``bucket`` just now.

        For limits on failures that must still be checked before the outcome is known: hit
        first (so at most ``limit`` attempts run at once), refund when the attempt succeeds.
        Should the window turn between the two, the refund lands in the new window, whose
        counter then errs by one on the lenient side.
        """
        window_start = int(self._clock() // window_seconds) * window_seconds
        self.counters.decrement(bucket, window_start, session)

    def reset(self, bucket: str, *, session: Session | None = None) -> None:
        self.counters.reset(bucket, session)


def _retry_after(limit: int, current: int, previous: int, elapsed: float, window: int) -> int:
    """Seconds until one more event fits, if nothing else arrives meanwhile."""
    room = limit - 1 - current  # what the previous window's weighted share must shrink to
    if room >= 0 and previous > 0:
        needed_elapsed = window * (1 - room / previous)
        return max(1, math.ceil(needed_elapsed - elapsed))
    # The current window alone is full: wait for it to end, then for its weight to fall.
    after_boundary = window * (1 - (limit - 1) / current) if current > 0 else 0.0
    return max(1, math.ceil(window - elapsed + max(0.0, after_boundary)))
