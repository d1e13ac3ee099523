"""Rate limits shared by every worker: database counters by default, Redis when configured.

Counters are kept per fixed window. A *sliding* limit also weighs the previous window by how
much of it still overlaps the last ``window_seconds`` (the sliding-window-counter estimate), so
a burst straddling a window boundary cannot get twice the limit through.

A refused hit is not counted: a client that keeps retrying while blocked is let in again as
soon as its earlier hits age out, no later. A counted hit can be taken back (``refund``) in the
window it was counted in, whatever the clock says by then.

Bucket names hold keyed hashes, never an email address, client id or network address; a client
address is counted by its network (``client_network``).
"""

from __future__ import annotations

import ipaddress
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from sqlalchemy.orm import Session

from memoryos_server.crypto import TokenHasher
from memoryos_server.errors import RateLimited, ServiceUnavailable
from memoryos_server.storage.repositories.ratelimit import RateLimitRepository

if TYPE_CHECKING:
    import redis

    from memoryos_server.services.runtime import Runtime

T = TypeVar("T")

MAX_WINDOW_SECONDS = 86_400

# Take one back, never below zero and never creating the key: a refund that arrives after its
# window's key expired must not leave a -1 behind with no expiry (a free attempt for ever).
_DECREMENT_EXISTING = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
    return redis.call('DECR', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Hit:
    """One counted event: the bucket and the window it was counted in, and the room left."""

    bucket: str
    window_start: int
    remaining: int


class _Counters(Protocol):
    def increment(self, bucket: str, window_start: int, window_seconds: int, session: Session | None) -> int: ...

    def decrement(self, bucket: str, window_start: int, session: Session | None) -> None:
        """Take one back from a window's counter if it holds more than zero; never create it."""

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
            self.client.eval(_DECREMENT_EXISTING, 1, self._key(bucket, window_start))

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
    def __init__(self, counters: _Counters, *, hasher: TokenHasher, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self._hasher = hasher
        self.clock = clock

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> RateLimiter:
        url = runtime.settings.redis_url
        return cls(RedisCounters(url) if url else DatabaseCounters(runtime), hasher=runtime.hasher)

    # --- bucket names ---------------------------------------------------------------------------

    def key(self, value: str, *, purpose: str) -> str:
        """A keyed hash of ``value`` to name a bucket by: the counters hold no email, id or address."""
        return self._hasher.hash(value, purpose=f"ratelimit:{purpose}")[:40]

    def client_key(self, ip: str) -> str:
        """The bucket key of a client address: one per IPv4 address, one per IPv6 /64."""
        return self.key(client_network(ip), purpose="client_ip")

    # --- counting -------------------------------------------------------------------------------

    def hit(
        self,
        bucket: str,
        *,
        limit: int,
        window_seconds: int,
        sliding: bool = True,
        session: Session | None = None,
    ) -> Hit:
        """Count one event in ``bucket``; raise ``RateLimited`` (not counted) when over ``limit``.

        Returns the counted hit (what ``refund`` takes back) and how many more events the bucket
        allows now.
        """
        if not 1 <= window_seconds <= MAX_WINDOW_SECONDS:
            raise ValueError(f"a rate-limit window is 1 s to {MAX_WINDOW_SECONDS} s")
        now = self.clock()
        window_start = int(now // window_seconds) * window_seconds
        elapsed = now - window_start
        current = self.counters.increment(bucket, window_start, window_seconds, session)
        previous = self.counters.count(bucket, window_start - window_seconds, session) if sliding else 0
        weight = (window_seconds - elapsed) / window_seconds
        estimate = previous * weight + current
        if estimate <= limit:
            return Hit(bucket, window_start, int(limit - estimate))
        self.counters.decrement(bucket, window_start, session)
        if not sliding:
            raise RateLimited(math.ceil(window_seconds - elapsed))
        # The estimate spreads the previous window's hits evenly and can ask for more than a whole
        # window; an exact log of hits never needs more than one, so that is the cap (a retry at
        # that moment may, rarely, be refused once more for a short while).
        raise RateLimited(min(window_seconds, _retry_after(limit, current - 1, previous, elapsed, window_seconds)))

    def refund(self, hit: Hit, *, session: Session | None = None) -> None:
        """Take back one event ``hit`` counted, in the window it was counted in.

        For limits on failures that must still be checked before the outcome is known: hit
        first (so at most ``limit`` attempts run at once), refund when the attempt succeeds.
        The window may have turned in between (a password hash lies between the two): the
        refund still lands in the hit's own window, never in the new one, and takes nothing
        from a window whose counter has already gone.
        """
        self.counters.decrement(hit.bucket, hit.window_start, session)

    def hit_all(
        self, limits: Sequence[tuple[str, int]], *, window_seconds: int, session: Session | None = None
    ) -> list[Hit]:
        """Count one event in every ``(bucket, limit)``, all or none: past any limit
        ``RateLimited``, with the buckets already counted taken back."""
        hits: list[Hit] = []
        try:
            for bucket, limit in limits:
                hits.append(self.hit(bucket, limit=limit, window_seconds=window_seconds, session=session))
        except BaseException:
            self.refund_all(hits, session=session)
            raise
        return hits

    def refund_all(self, hits: Sequence[Hit], *, session: Session | None = None) -> None:
        for hit in hits:
            self.refund(hit, session=session)

    def reset(self, bucket: str, *, session: Session | None = None) -> None:
        self.counters.reset(bucket, session)


def client_network(ip: str) -> str:
    """What a per-address limit counts a client by: an IPv4 address as it is, an IPv6 address by
    its /64. One IPv6 subscriber or host usually holds a whole /64 and can send from any address
    in it, so counting single IPv6 addresses would let it step around every per-address limit.
    An IPv4-mapped IPv6 address counts as its IPv4 address; text that is no address, as it is."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)


def _retry_after(limit: int, current: int, previous: int, elapsed: float, window: int) -> int:
    """Seconds until one more event fits, if nothing else arrives meanwhile."""
    room = limit - 1 - current  # what the previous window's weighted share must shrink to
    if room >= 0 and previous > 0:
        needed_elapsed = window * (1 - room / previous)
        return max(1, math.ceil(needed_elapsed - elapsed))
    # The current window alone is full: wait for it to end, then for its weight to fall.
    after_boundary = window * (1 - (limit - 1) / current) if current > 0 else 0.0
    return max(1, math.ceil(window - elapsed + max(0.0, after_boundary)))
