"""Failed-attempt counters in the shared cache: exact under concurrency, windows that end."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from core.attempts import Limit, attempt_start


def test_concurrent_attempts_get_exactly_the_limit_through(manual_clock):
    limit = Limit.of("test:concurrent", "5/h")
    with ThreadPoolExecutor(max_workers=10) as pool:
        attempts = list(pool.map(lambda _: attempt_start([limit]), range(30)))

    assert sum(1 for attempt in attempts if not attempt.wait) == 5


def test_a_right_secret_gives_its_place_back(manual_clock):
    limit = Limit.of("test:release", "2/h")
    for _ in range(5):
        attempt = attempt_start([limit])
        assert attempt.wait == 0
        attempt.release()


def test_refused_once_over_the_limit_until_the_window_ends(manual_clock):
    limit = Limit.of("test:window", "2/m")
    manual_clock.advance(60 - manual_clock.wall % 60)
    for _ in range(2):
        assert attempt_start([limit]).wait == 0

    manual_clock.advance(15)
    refused = attempt_start([limit])
    manual_clock.advance(45)

    assert refused.wait == 45
    assert attempt_start([limit]).wait == 0


@pytest.mark.parametrize(("rate", "count", "seconds"), [("10/m", 10, 60), ("3/15m", 3, 900)])
def test_rates_are_read_in_django_ratelimit_syntax(rate, count, seconds):
    assert Limit.of("x", rate) == Limit("x", count, seconds)


def test_a_malformed_rate_is_refused_by_name():
    with pytest.raises(ValueError, match="10/m"):
        Limit.of("x", "ten a minute")
