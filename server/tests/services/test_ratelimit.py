"""Rate limits on both stores: database counters (SQLite and PostgreSQL) and Redis."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from memoryos_server.crypto import TokenHasher
from memoryos_server.errors import RateLimited, ServiceUnavailable
from memoryos_server.services.email import EmailService, OutboxBackend
from memoryos_server.services.ratelimit import DatabaseCounters, Hit, RateLimiter, RedisCounters, client_network
from memoryos_server.services.runtime import Runtime
from tests.fixtures.clock import Clock
from tests.fixtures.passport import passport_service

REDIS_URL = "redis://127.0.0.1:6379/0"


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
        yield lambda clock: RateLimiter(DatabaseCounters(runtime), hasher=runtime.hasher, clock=clock)
        return
    counters = _redis_or_skip()
    yield lambda clock: RateLimiter(counters, hasher=runtime.hasher, clock=clock)
    counters.close()


def _bucket() -> str:
    return f"test:{secrets.token_hex(6)}"


def test_fixed_window(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(1_000_020.0)  # 20 s into a 100 s window
    limiter, bucket = store(clock), _bucket()
    hits = [limiter.hit(bucket, limit=3, window_seconds=100, sliding=False) for _ in range(3)]
    assert [hit.remaining for hit in hits] == [2, 1, 0]
    assert {hit.window_start for hit in hits} == {1_000_000}
    with pytest.raises(RateLimited) as refused:
        limiter.hit(bucket, limit=3, window_seconds=100, sliding=False)
    assert refused.value.retry_after_seconds == 80
    clock.now += 80  # the next window
    assert limiter.hit(bucket, limit=3, window_seconds=100, sliding=False).remaining == 2


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
    passport = passport_service(
        client.app.state.services,  # type: ignore[attr-defined]
        email=EmailService(runtime.settings, OutboxBackend(tmp_path)),
        limiter=RateLimiter(counters, hasher=runtime.hasher),
    )
    email = f"redis-{secrets.token_hex(4)}@example.com"
    results = [passport.send_code(email=email, ip=f"192.0.2.{n}") for n in range(runtime.settings.otp_send_per_email_per_hour + 1)]
    assert [r.sent for r in results] == [True] * runtime.settings.otp_send_per_email_per_hour + [False]
    assert results[-1].reason == "rate_limited"
    assert len(list(tmp_path.glob("*.eml"))) == runtime.settings.otp_send_per_email_per_hour
    assert any(key.startswith(counters._prefix.encode()) for key in counters.client.scan_iter(match=f"{counters._prefix}*"))
    counters.close()


def test_a_redis_outage_is_a_503_not_an_open_door() -> None:
    limiter = RateLimiter(RedisCounters("redis://127.0.0.1:1/0"), hasher=TokenHasher(secrets.token_bytes(32)))
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


# --- refunds land in the window of their hit ---------------------------------------------------


def test_a_refund_after_the_window_turned_leaves_the_new_window_alone(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(6_000_099.5)  # half a second before the window ends
    limiter, bucket = store(clock), _bucket()
    first = limiter.hit(bucket, limit=5, window_seconds=100)
    clock.now = 6_000_100.5  # the attempt's password hash took a second: a new window
    limiter.hit(bucket, limit=5, window_seconds=100)  # someone else's attempt, in the new window
    limiter.refund(first)
    assert limiter.counters.count(bucket, 6_000_000, None) == 0  # taken back where it was counted
    assert limiter.counters.count(bucket, 6_000_100, None) == 1  # the other attempt still counts


def test_a_refund_never_goes_below_zero_nor_creates_a_counter(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(7_000_010.0)
    limiter, bucket = store(clock), _bucket()
    hit = limiter.hit(bucket, limit=5, window_seconds=100)
    limiter.refund(hit)
    limiter.refund(hit)  # a second refund of one hit takes nothing more
    assert limiter.counters.count(bucket, 7_000_000, None) == 0
    limiter.refund(Hit(bucket, 7_000_100, 4))  # a window never counted (or already gone)
    assert limiter.counters.count(bucket, 7_000_100, None) == 0
    clock.now = 7_000_110.0
    assert [limiter.hit(bucket, limit=2, window_seconds=100).remaining for _ in range(2)] == [1, 0]
    with pytest.raises(RateLimited):  # no free attempt was left behind
        limiter.hit(bucket, limit=2, window_seconds=100)


def test_a_late_refund_leaves_no_redis_key_without_expiry() -> None:
    counters = _redis_or_skip()
    clock = Clock(8_000_099.5)
    limiter, bucket = RateLimiter(counters, hasher=TokenHasher(secrets.token_bytes(32)), clock=clock), _bucket()
    hit = limiter.hit(bucket, limit=5, window_seconds=100)
    counters.client.delete(counters._key(bucket, hit.window_start))  # expired meanwhile
    clock.now = 8_000_100.5
    limiter.refund(hit)
    assert counters.client.exists(counters._key(bucket, hit.window_start)) == 0
    assert counters.client.exists(counters._key(bucket, 8_000_100)) == 0
    kept = limiter.hit(bucket, limit=5, window_seconds=100)
    limiter.hit(bucket, limit=5, window_seconds=100)
    limiter.refund(kept)
    assert counters.count(bucket, 8_000_100, None) == 1
    assert 0 < counters.client.ttl(counters._key(bucket, 8_000_100)) <= 201  # still expires
    counters.close()


# --- several buckets at once -------------------------------------------------------------------


def test_hit_all_counts_every_bucket_or_none(store) -> None:  # type: ignore[no-untyped-def]
    clock = Clock(9_000_010.0)
    limiter, wide, narrow = store(clock), _bucket(), _bucket()
    limits = [(wide, 10), (narrow, 2)]
    hits = [limiter.hit_all(limits, window_seconds=100) for _ in range(2)]
    assert [[hit.remaining for hit in pair] for pair in hits] == [[9, 1], [8, 0]]
    for _ in range(3):
        with pytest.raises(RateLimited):
            limiter.hit_all(limits, window_seconds=100)
    assert limiter.counters.count(wide, 9_000_000, None) == 2  # the refused ones were taken back
    assert limiter.counters.count(narrow, 9_000_000, None) == 2
    clock.now = 9_000_150.0  # the next window; refunds still go to the hits' own
    limiter.refund_all(hits[0])
    assert limiter.counters.count(wide, 9_000_000, None) == 1
    assert limiter.counters.count(narrow, 9_000_000, None) == 1
    assert limiter.counters.count(wide, 9_000_100, None) == 0


# --- client addresses --------------------------------------------------------------------------


def test_ipv6_clients_are_counted_by_their_64(runtime: Runtime) -> None:
    limiter = RateLimiter(DatabaseCounters(runtime), hasher=runtime.hasher)
    one = limiter.client_key("2001:db8:1:2::1")
    assert limiter.client_key("2001:db8:1:2:ffff:ffff:ffff:fffe") == one  # the same /64
    assert limiter.client_key("2001:DB8:1:2:0:0:0:99") == one  # however written
    assert limiter.client_key("2001:db8:1:3::1") != one  # the next /64
    assert limiter.client_key("2001:db8:2:2::1") != one


def test_ipv4_clients_are_counted_by_their_address(runtime: Runtime) -> None:
    limiter = RateLimiter(DatabaseCounters(runtime), hasher=runtime.hasher)
    assert limiter.client_key("192.0.2.1") != limiter.client_key("192.0.2.2")
    assert limiter.client_key("::ffff:192.0.2.1") == limiter.client_key("192.0.2.1")  # IPv4-mapped
    assert limiter.client_key("::ffff:192.0.2.2") != limiter.client_key("::ffff:192.0.2.1")


def test_client_networks() -> None:
    assert client_network("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_network("fe80::1%eth0") == "fe80::/64"
    assert client_network("192.0.2.7") == "192.0.2.7"
    assert client_network("testclient") == "testclient"  # not an address: counted as it is
