"""The adaptive pacer: pure, driven by clock floats; no event loop, no server, no real time.

The last tests run a small simulation in virtual time against the fake server's own limiter:
it is how the pacer was tuned, and it pins the 429 share and the total time it reaches.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoice_async._pacer import (
    BETA,
    MAX_HOLD,
    CubicCalculator,
    Pacer,
    RateLimitInfo,
    TokenBucket,
    parse_rate_limit_headers,
)
from invoice_async.testing import RateLimit
from invoice_async.testing._ratelimit import RateLimiter

EPOCH = 1_700_000_000.0


def ietf(limit: str, remaining: str, reset: str) -> dict[str, str]:
    """The IETF draft's three headers."""
    return {"RateLimit-Limit": limit, "RateLimit-Remaining": remaining, "RateLimit-Reset": reset}


# ------------------------------------------------------------------------ header parsing
def test_ietf_headers_are_read_whatever_their_case() -> None:
    assert parse_rate_limit_headers(ietf("100", "7", "30"), EPOCH) == RateLimitInfo(100, 7, 30.0)
    lower = {"ratelimit-limit": "10", "ratelimit-remaining": "0", "ratelimit-reset": "1.5"}
    assert parse_rate_limit_headers(lower, EPOCH) == RateLimitInfo(10, 0, 1.5)


def test_x_ratelimit_reset_is_a_delay_when_small_and_a_unix_time_when_large() -> None:
    x = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999"}
    delay = parse_rate_limit_headers(x | {"X-RateLimit-Reset": "12"}, EPOCH)
    epoch = parse_rate_limit_headers(x | {"X-RateLimit-Reset": str(int(EPOCH) + 60)}, EPOCH)
    past = parse_rate_limit_headers(x | {"X-RateLimit-Reset": str(int(EPOCH) - 60)}, EPOCH)
    assert delay == RateLimitInfo(5000, 4999, 12.0)
    assert epoch == RateLimitInfo(5000, 4999, 60.0)
    assert past == RateLimitInfo(5000, 4999, 0.0)


def test_ietf_names_come_first_and_junk_falls_back_to_the_x_variant() -> None:
    both = ietf("100", "7", "30") | {"X-RateLimit-Remaining": "99", "X-RateLimit-Reset": "5"}
    junk = ietf("lots", "-1", "soon") | {"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "9"}
    assert parse_rate_limit_headers(both, EPOCH) == RateLimitInfo(100, 7, 30.0)
    assert parse_rate_limit_headers(junk, EPOCH) == RateLimitInfo(None, 3, 9.0)


@pytest.mark.parametrize("junk", ["", "abc", "-1", "nan", "inf", "1e3", "0x10", "1_000", "+5"])
def test_junk_values_are_ignored(junk: str) -> None:
    assert parse_rate_limit_headers(ietf("10", junk, "1"), EPOCH) is None
    assert parse_rate_limit_headers(ietf(junk, "4", junk), EPOCH) == RateLimitInfo(None, 4, None)


def test_the_first_item_of_a_draft_list_value_is_read() -> None:
    info = parse_rate_limit_headers(ietf("100, 100;w=60", "50", "30"), EPOCH)
    assert info == RateLimitInfo(100, 50, 30.0)


def test_no_remaining_means_no_information() -> None:
    assert parse_rate_limit_headers({"RateLimit-Limit": "10", "Retry-After": "1"}, EPOCH) is None
    assert parse_rate_limit_headers({}, EPOCH) is None


@given(st.dictionaries(st.sampled_from(list(ietf("", "", ""))), st.text(max_size=20)))
def test_parsing_never_raises_and_gives_sane_numbers(headers: dict[str, str]) -> None:
    info = parse_rate_limit_headers(headers, EPOCH)
    if info is not None:
        assert info.remaining >= 0
        assert info.reset_after is None or 0 <= info.reset_after < math.inf


# --------------------------------------------------------------------------- the bucket
def test_bucket_spaces_starts_at_its_rate_and_catches_up_after_a_quiet_time() -> None:
    bucket = TokenBucket(10)
    assert [bucket.reserve(0.0) for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    assert bucket.reserve(1.0) == 0.0
    assert bucket.reserve(1.0) == pytest.approx(0.1)


def test_bucket_lets_capacity_starts_through_at_once_after_idling_and_no_more() -> None:
    bucket = TokenBucket(10, capacity=3)
    bucket.reserve(0.0)
    assert bucket.tokens(100.0) == 3
    waits = [bucket.reserve(100.0) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1])


def test_a_rate_change_keeps_the_starts_already_reserved_and_paces_the_next_at_the_new_rate() -> (
    None
):
    slower = TokenBucket(10)
    for _ in range(3):
        slower.reserve(0.0)  # the last at 0.2
    slower.set_rate(5, 0.0)
    assert slower.reserve(0.0) == pytest.approx(0.2 + 1 / 5)
    faster = TokenBucket(1)
    faster.reserve(0.0)
    faster.reserve(0.0)  # at 1.0
    faster.set_rate(10, 0.0)
    assert faster.reserve(0.0) == pytest.approx(1.0 + 1 / 10)
    assert faster.tokens(50.0) == 1.0  # never above its capacity


# ---------------------------------------------------------------------------- CUBIC
def test_cubic_restarts_low_climbs_fast_far_below_the_failing_rate_and_slowly_near_it() -> None:
    cubic = CubicCalculator()
    assert cubic.decrease(100.0, 0.0) == pytest.approx(100 * BETA)
    k = cubic.k
    assert cubic.rate(0.0) == pytest.approx(70.0)
    assert cubic.rate(k) == pytest.approx(100.0)
    first_second = cubic.rate(1.0) - cubic.rate(0.0)
    last_second = cubic.rate(k) - cubic.rate(k - 1.0)
    assert first_second > 15.0  # req/s gained while far below 100
    assert last_second < 0.5  # while near it
    assert cubic.rate(k + 1.0) - cubic.rate(k) < 0.5  # probes above it slowly at first
    assert cubic.rate(k + 3.0) - cubic.rate(k + 2.0) > 5.0  # then faster


def test_cubic_is_flat_before_its_origin_and_reaches_w_max_after_k_whatever_the_start() -> None:
    cubic = CubicCalculator()
    cubic.decrease(50.0, 10.0, start=5.0)
    assert cubic.rate(3.0) == cubic.rate(10.0) == pytest.approx(5.0)
    assert cubic.rate(10.0 + cubic.k) == pytest.approx(50.0)
    assert cubic.rate(11.0) - cubic.rate(10.0) > 10.0  # far below: fast


# -------------------------------------------------------------------------- the pacer
def burst_then_throttle(pacer: Pacer, successes: int = 5) -> None:
    """8 starts at t=0; at t=0.02 ``successes`` answers and then a 429 with Retry-After 1."""
    for _ in range(8):
        assert pacer.delay(0.0) == 0.0
    for _ in range(successes):
        pacer.on_success(0.02)
    pacer.on_throttle(0.02, 1.0)


def test_the_pacer_is_unpaced_until_the_first_throttle() -> None:
    pacer = Pacer()
    for i in range(1000):
        assert pacer.delay(i * 0.001) == 0.0
        pacer.on_success(i * 0.001 + 0.02, {"Content-Type": "application/json"})
    assert pacer.rate is None
    pacer.on_throttle(1.02, 1.0)
    assert pacer.rate is not None


def test_the_first_throttle_sets_a_rate_between_the_bounds_of_the_run_and_waits_the_pause() -> None:
    pacer = Pacer()
    burst_then_throttle(pacer)
    lower, upper = 5 / (0.02 + 1.0), 5 / 0.02  # with its pause; alone
    rate = math.sqrt(lower * upper)
    assert pacer.rate == pytest.approx(rate)
    assert pacer.delay(0.5) == pytest.approx(0.52)  # not before the Retry-After's end
    assert pacer.delay(0.5) == pytest.approx(0.52 + 1 / rate, rel=0.05)  # then paced


def test_throttles_during_the_retry_after_are_one_event_and_late_successes_join_its_run() -> None:
    pacer, again = Pacer(), Pacer()
    burst_then_throttle(pacer, successes=2)
    burst_then_throttle(again, successes=2)
    first = pacer.rate
    pacer.on_throttle(0.021, 1.0)  # already on the wire: no second cut
    assert pacer.rate == first
    again.on_success(0.021)  # sent before the throttle: the run did better than it seemed
    assert first is not None
    assert again.rate is not None
    assert again.rate > first


def test_the_rate_grows_back_while_requests_succeed_fast_at_first_then_slowly() -> None:
    pacer = Pacer()
    burst_then_throttle(pacer)
    rates = []
    for i in range(1, 4000):
        now = 1.02 + i * 0.002
        pacer.delay(now)
        pacer.on_success(now + 0.02)
        rates.append(pacer.rate or 0.0)
    assert rates == sorted(rates)  # never cut without a throttle
    per_second = [rates[min(i * 500, len(rates) - 1)] for i in range(8)]
    gains = [b - a for a, b in itertools.pairwise(per_second)]
    assert gains[0] > 3 * gains[3]  # slows down as it nears the rate that failed


def test_a_second_run_measures_the_sustained_rate() -> None:
    pacer = Pacer()
    burst_then_throttle(pacer)
    now = 1.02
    for _ in range(500):  # 5 s of successes at 100/s, then a 429
        now += 0.01
        pacer.delay(now)
        pacer.on_success(now)
    failed = pacer.rate
    pacer.on_throttle(now, 1.0)
    assert failed is not None
    assert failed > 100  # CUBIC had climbed past what the server took
    # 500 successes in 5 s: at most 100/s (83/s counting the pause before): restart at 70.
    assert pacer.rate == pytest.approx(BETA * 100, rel=0.01)


def test_a_quota_with_nothing_left_holds_starts_until_its_reset() -> None:
    pacer = Pacer()
    for _ in range(4):
        pacer.delay(0.0)
    pacer.on_success(0.02, ietf("10", "3", "3"))  # three still in flight will use the rest
    assert pacer.delay(0.02) == pytest.approx(3.0)
    assert pacer.delay(3.5) == 0.0  # the reset passed: unknown again, so unpaced
    assert pacer.rate is None  # headers never made it learn


def test_a_quota_with_some_left_lets_that_many_start_at_once() -> None:
    pacer = Pacer()
    pacer.delay(0.0)
    pacer.on_success(0.02, ietf("10", "3", "2"))
    assert [pacer.delay(0.02) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 2.0])


def test_the_reset_is_the_earliest_one_the_answers_rounded_up_to() -> None:
    pacer = Pacer()
    for i in range(3):
        pacer.delay(0.0)
        pacer.on_success(0.2 * i, ietf("10", str(8 - i), "1"))
    assert pacer.delay(0.5) == 0.0
    for _ in range(6):
        pacer.delay(0.5)
    assert pacer.delay(0.5) == pytest.approx(0.5)  # until 0.0 + 1, not 0.4 + 1


def test_a_quota_reset_given_as_unix_time_and_a_huge_one_are_bounded() -> None:
    pacer = Pacer(epoch=lambda: EPOCH)
    pacer.delay(0.0)
    pacer.on_success(0.0, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(EPOCH + 30)})
    assert pacer.delay(0.0) == pytest.approx(30.0)
    huge = Pacer()
    huge.delay(0.0)
    huge.on_success(0.0, ietf("1", "0", "999999"))
    assert huge.delay(0.0) == pytest.approx(MAX_HOLD)


def test_a_quota_that_grows_back_before_its_reset_is_no_longer_followed() -> None:
    pacer = Pacer()
    pacer.delay(0.0)
    pacer.on_success(0.0, ietf("10", "0", "1"))  # like a bucket: full again within 1 s
    assert pacer.delay(0.0) == pytest.approx(1.0)  # followed, until...
    pacer.on_success(0.1, ietf("10", "2", "1"))  # ...it grows back long before its reset
    assert pacer.delay(0.1) == 0.0
    pacer.on_success(0.1, ietf("10", "0", "1"))
    assert pacer.delay(0.1) == 0.0


@given(
    st.lists(
        st.tuples(
            st.floats(0, 0.3),
            st.sampled_from(["delay", "delay", "success", "throttle", "quota"]),
        ),
        max_size=200,
    ),
    st.floats(0.5, 500),
)
def test_the_ceiling_is_never_exceeded(steps: list[tuple[float, str]], ceiling: float) -> None:
    pacer, now, starts = Pacer(ceiling), 0.0, []
    for step, action in steps:
        now += step
        if action == "delay":
            starts.append(now + pacer.delay(now))
        elif action == "success":
            pacer.on_success(now)
        elif action == "quota":
            pacer.on_success(now, ietf("5", "1", "2"))
        else:
            pacer.on_throttle(now, 0.5)
        assert pacer.rate is not None
        assert pacer.rate <= ceiling
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 1 / ceiling - 1e-9 for gap in gaps)


def test_adaptive_false_ignores_throttles_and_headers_leaving_only_the_ceiling() -> None:
    capped, free = Pacer(5, adaptive=False), Pacer(adaptive=False)
    for pacer in (capped, free):
        pacer.delay(0.0)
        pacer.on_throttle(0.02, 1.0)
        pacer.delay(1.5)
        pacer.on_success(1.5, ietf("10", "0", "30"))
    assert capped.rate == 5
    assert free.rate is None
    assert free.delay(2.0) == 0.0  # no quota hold
    assert capped.delay(2.0) == 0.0
    assert capped.delay(2.0) == pytest.approx(0.2)


def test_a_bad_ceiling_is_refused() -> None:
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="max_per_second"):
            Pacer(bad)


# ----------------------------------------------------------------- the simulation
@attrs.frozen
class Outcome:
    """What a simulated job did: answers, 429s among them, the virtual time it took."""

    answers: int
    throttled: int
    elapsed: float
    paced: bool

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.answers


def simulate(
    pacer: Pacer, limit: RateLimit | None, jobs: int, *, slots: int = 8, seed: int = 0
) -> Outcome:
    """``jobs`` requests through ``slots`` concurrent workers against a simulated server.

    Each worker asks the pacer for a start when it is free, waits, and sends; if a Retry-After
    began meanwhile, it gives the start back and asks again. The server (the fake server's
    limiter) judges a request halfway through its 20 ms (+-2 ms) round trip. A 429 pauses every
    worker for its Retry-After (1 s) and is sent again; everything else counts as done.
    """
    rng, limiter = random.Random(seed), RateLimiter(limit) if limit else None
    events: list[tuple[float, int, str]] = [(0.0, n, "free") for n in range(slots)]
    order = slots
    paused_until = -math.inf
    done = pending = answers = throttled = 0
    paced = False
    elapsed = 0.0
    while events:
        now, _, kind = heapq.heappop(events)
        nxt: tuple[float, str] | None = None
        if kind == "free" and done + pending < jobs:
            pending += 1
            nxt = (now + pacer.delay(now), "send")
        elif kind == "send" and now < paused_until:
            pacer.on_no_answer(now)
            pending -= 1
            nxt = (now, "free")
        elif kind == "send":
            latency = 0.02 + rng.uniform(-0.002, 0.002)
            ok = limiter is None or limiter.admit(now + latency / 2)
            nxt = (now + latency, "ok" if ok else "429")
        elif kind in ("ok", "429"):
            pending -= 1
            answers += 1
            if kind == "429":
                throttled += 1
                pacer.on_throttle(now, 1.0)
                paused_until = max(paused_until, now + 1.0)
            else:
                done += 1
                elapsed = now
                pacer.on_success(now, limiter.headers(now) if limiter else None)
            nxt = (now, "free")
        paced = paced or pacer.rate is not None
        if nxt is not None:
            heapq.heappush(events, (nxt[0], order, nxt[1]))
            order += 1
    assert done == jobs
    return Outcome(answers, throttled, elapsed, paced)


@pytest.mark.parametrize(
    ("limit", "jobs", "ideal", "max_throttled", "max_slowdown"),
    [
        (RateLimit(100, burst=10), 600, 6.0, 0.05, 1.75),
        (RateLimit(20, burst=5), 160, 8.0, 0.08, 1.5),
        (RateLimit(100, window=1.0, headers=True), 600, 6.0, 0.01, 1.15),
    ],
    ids=["bucket-100-per-s-burst-10", "bucket-20-per-s-burst-5", "window-100-per-s-headers"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulated_jobs_settle_near_the_limit_with_few_429s(
    limit: RateLimit, jobs: int, ideal: float, max_throttled: float, max_slowdown: float, seed: int
) -> None:
    outcome = simulate(Pacer(), limit, jobs, seed=seed)
    assert outcome.throttled_share <= max_throttled
    assert outcome.elapsed <= max_slowdown * ideal


def test_simulated_learning_costs_nothing_without_a_limit() -> None:
    class Unpaced(Pacer):
        def delay(self, now: float) -> float:
            return 0.0

    outcome = simulate(Pacer(), None, 600)
    assert outcome.throttled == 0
    assert not outcome.paced
    assert outcome.elapsed == simulate(Unpaced(), None, 600).elapsed
    assert outcome.elapsed < 600 / 8 * 0.022


def test_a_throttle_after_an_idle_time_measures_only_the_busy_run() -> None:
    pacer = Pacer()
    pacer.delay(0.0)
    pacer.on_success(0.01)
    # Five idle seconds (a backoff, or the caller's own work), then a request that is throttled:
    # the idle time says nothing of what the server sustains, so it does not drag the rate down.
    assert pacer.delay(5.0) == 0.0
    pacer.on_throttle(5.002, 0.01)
    assert pacer.rate is not None
    assert pacer.rate > 50  # not 2 answers / 5 s
