"""`python -m bench` (`make bench`): one table comparing the gateway with nginx and bare Django.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL: the database is recreated and
the Redis database emptied) and the Debian packages nginx and wrk (installed when missing).
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack

import httpx

from bench import catalog, wrk
from bench.processes import Nginx, ensure_tools, free_port, gunicorn

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portcullis_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
PATH = "/weather.json"


def main() -> int:
    """Start everything, measure each target in turn, print the table."""
    ensure_tools()
    catalog.reset_stores(DATABASE_URL, REDIS_URL)
    with ExitStack() as stack:
        nginx = stack.enter_context(Nginx())
        origin = f"http://127.0.0.1:{nginx.origin_port}"
        token = catalog.prepare(database_url=DATABASE_URL, redis_url=REDIS_URL, upstream=origin)
        bare_port, gateway_port = free_port(), free_port()
        stack.enter_context(
            gunicorn("bench.bare:application", port=bare_port, env={"BENCH_UPSTREAM": origin})
        )
        stack.enter_context(
            gunicorn("portal.wsgi:application", port=gateway_port, env=gateway_env())
        )
        auth = {"Authorization": f"Bearer {token}"}
        targets = [
            ("direct upstream (nginx static)", f"{origin}{PATH}", {}),
            ("nginx reverse proxy", f"http://127.0.0.1:{nginx.proxy_port}{PATH}", {}),
            ("bare Django + httpx", f"http://127.0.0.1:{bare_port}{PATH}", {}),
            ("gateway, cache miss", f"http://127.0.0.1:{gateway_port}/gw/bench-miss{PATH}", auth),
            ("gateway, cache hit", f"http://127.0.0.1:{gateway_port}/gw/bench-hit{PATH}", auth),
        ]
        results = {name: measure(url, headers) for name, url, headers in targets}
    print_table(results)
    return 0


def gateway_env() -> dict[str, str]:
    """The gateway's environment: the benchmark stores, quiet logs, no debug."""
    return {
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def measure(url: str, headers: dict[str, str]) -> wrk.Result | str:
    """Check the target answers 200 (warming caches and pools), then run wrk on it."""
    for _ in range(20):
        answer = httpx.get(url, headers=headers, timeout=10)
    if answer.status_code != 200:
        return f"not measured: answered {answer.status_code} {answer.text[:80]}"
    return wrk.run(url, connections=CONNECTIONS, seconds=SECONDS, headers=headers)


def print_table(results: dict[str, wrk.Result | str]) -> None:
    """One row per target, then the gateway's ratios to bare Django and to nginx."""
    print(f"\n{CONNECTIONS} connections, {SECONDS} s each, {os.cpu_count()} cores\n")
    print(f"{'target':32} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
    for name, result in results.items():
        if isinstance(result, str):
            print(f"{name:32} {result}")
        else:
            print(
                f"{name:32} {result.requests_per_second:10.0f} {result.p50_ms:8.2f}"
                f" {result.p99_ms:8.2f} {result.failures:7d}"
            )
    print()
    for gateway in ("gateway, cache miss", "gateway, cache hit"):
        for base in ("bare Django + httpx", "nginx reverse proxy"):
            print(f"{gateway} / {base}: {ratio(results[gateway], results[base])}")


def ratio(numerator: wrk.Result | str, denominator: wrk.Result | str) -> str:
    """Throughput of one target relative to another."""
    if isinstance(numerator, str) or isinstance(denominator, str):
        return "n/a"
    return f"{numerator.requests_per_second / denominator.requests_per_second:.2f}x"


if __name__ == "__main__":
    sys.exit(main())
