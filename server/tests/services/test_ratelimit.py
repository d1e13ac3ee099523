"""Rate limits on both stores: database counters (SQLite and PostgreSQL) and Redis."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from memoryos_server.errors import RateLimited
from memoryos_server.services.email import EmailService, OutboxBackend
from memoryos_server.services.passport import PassportService
from memoryos_server.services.ratelimit import DatabaseCounters, RateLimiter, RedisCounters
from memoryos_server.services.runtime import Runtime

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _redis_or_skip() -> RedisCounters:
    counters = RedisCounters(REDIS_URL, prefix=f"memoryos-test:{secrets.token_hex(4)}:")
    try:
        counters.client.ping()
    except Exception as exc:  # noqa: BLE001 — any failure means "no Redis here"
        pytest.skip(f"Redis at {REDIS_URL} does not answer: {type(exc).__name__}")
    return counters


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, runtime: Runtime, client: TestClient) -> Iterator[Callable[[Clock], RateLimiter]]:
    """A limiter factory over one store (``client`` makes sure the schema is migrated)."""
    if request.param == "database":
        yield lambda clock: RateLimiter(DatabaseCounters(runtime), clock=clock)
        return
    counters = _redis_or_skip()
    yield lambda clock: RateLimiter(counters, clock=clock)
    counters.close()


def _bucket() -> str:
    return f"test:{secrets.token_hex(6)}"


def test_fixed_window(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(1_000_020.0)  # 20 s into a 100 s window
    limiter, bucket = store(clock), _bucket()
    assert [limiter.hit(bucket, limit=3, window_seconds=100, sliding=False) for _ in range(3)] == [2, 1, 0]
    with pytest.raises(RateLimited) as refused:
        limiter.hit(bucket, limit=3, window_seconds=100, sliding=False)
    assert refused.value.retry_after_seconds == 80
    clock.now += 80  # the next window
    assert limiter.hit(bucket, limit=3, window_seconds=100, sliding=False) == 2


def test_sliding_window_weighs_the_previous_one(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(1_000_050.0)
    limiter, bucket = store(clock), _bucket()
    for _ in range(4):
        limiter.hit(bucket, limit=4, window_seconds=100)
    clock.now = 1_000_110.0  # 10 s into the next window: 90 % of the last four still count
    with pytest.raises(RateLimited) as refused:
        limiter.hit(bucket, limit=4, window_seconds=100)
    assert 1 <= refused.value.retry_after_seconds <= 100
    clock.now = 1_000_110.0 + refused.value.retry_after_seconds
    limiter.hit(bucket, limit=4, window_seconds=100)


def test_refused_hits_are_not_counted(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(2_000_010.0)
    limiter, bucket = store(clock), _bucket()
    limiter.hit(bucket, limit=1, window_seconds=100, sliding=False)
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.hit(bucket, limit=1, window_seconds=100, sliding=False)
    assert limiter.counters.count(bucket, 2_000_000, None) == 1


def test_workers_share_one_count(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(3_000_010.0)
    first, second, bucket = store(clock), store(clock), _bucket()
    first.hit(bucket, limit=2, window_seconds=100)
    second.hit(bucket, limit=2, window_seconds=100)
    with pytest.raises(RateLimited):
        first.hit(bucket, limit=2, window_seconds=100)


def test_concurrent_hits_never_exceed_the_limit(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(4_000_010.0)
    limiter, bucket = store(clock), _bucket()
    allowed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            limiter.hit(bucket, limit=5, window_seconds=100, sliding=False)
        except RateLimited:
            return
        with lock:
            allowed.append(1)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= len(allowed) <= 5


def test_otp_sends_are_limited_through_redis(runtime: Runtime, client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    counters = _redis_or_skip()
    passport = PassportService(
        runtime, email=EmailService(runtime.settings, OutboxBackend(tmp_path)), limiter=RateLimiter(counters)
    )
    email = f"redis-{secrets.token_hex(4)}@example.com"
    results = [passport.send_code(email=email, ip=f"192.0.2.{n}") for n in range(runtime.settings.otp_send_per_email_per_hour + 1)]
    assert [r.sent for r in results] == [True] * runtime.settings.otp_send_per_email_per_hour + [False]
    assert results[-1].reason == "rate_limited"
    assert len(list(tmp_path.glob("*.eml"))) == runtime.settings.otp_send_per_email_per_hour
    assert any(key.startswith(counters._prefix.encode()) for key in counters.client.scan_iter(match=f"{counters._prefix}*"))
    counters.close()


def test_a_redis_outage_is_a_503_not_an_open_door() -> None:
    from memoryos_server.errors import ServiceUnavailable

    limiter = RateLimiter(RedisCounters("redis://127.0.0.1:1/0"))
    with pytest.raises(ServiceUnavailable):
        limiter.hit(_bucket(), limit=5, window_seconds=60)


def test_retry_after_never_exceeds_the_window(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(5_000_005.0)  # 5 s into a 100 s window: the estimate alone would say 115 s
    limiter, bucket = store(clock), _bucket()
    for _ in range(5):
        limiter.hit(bucket, limit=5, window_seconds=100)
    with pytest.raises(RateLimited) as refused:
        limiter.hit(bucket, limit=5, window_seconds=100)
    assert 1 <= refused.value.retry_after_seconds <= 100
