"""`python -m bench` (`make bench`): the gateway against nginx, a bare async Django forwarder
and the LiteLLM proxy, under uvicorn and granian, in one table.

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL: the database is recreated and
the Redis database emptied), the Debian packages nginx and wrk (installed when missing) and
LiteLLM (installed into .venv-bench/ when missing). Each server runs alone with the upstreams.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from importlib.metadata import version

import httpx

from bench import catalog, litellm_proxy, load, memory, wrk
from bench.load import Call
from bench.processes import (
    Nginx,
    Process,
    asgi_server,
    ensure_tools,
    free_port,
    raise_open_files_limit,
)
from bench.report import BURST_HEAD, MEMORY_HEAD, WRK_HEAD, Figure, Report, Section, ratio_line
from bench.upstream import IDLE_MODEL, MODEL

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portcullis_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
CALLS = int(os.environ.get("BENCH_CALLS", "256"))
IDLE_STREAMS = int(os.environ.get("BENCH_IDLE_STREAMS", "2000"))
# A burst still running this long after it started is cut short: its calls count as late.
DEADLINE = float(os.environ.get("BENCH_DEADLINE", "20"))
SERVERS = os.environ.get("BENCH_SERVERS", "uvicorn,granian").split(",")
SECTIONS = ("rest", "ai", "calls", "streams", "memory")
# BENCH_ONLY names the sections to measure; "bursts" stands for the two burst sections.
ONLY = frozenset(
    section
    for name in os.environ.get("BENCH_ONLY", ",".join(SECTIONS)).split(",")
    for section in ({"bursts": ("calls", "streams")}.get(name.strip()) or (name.strip(),))
)
WORKERS = os.cpu_count() or 1
PATH = "/weather.json"

CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}]}
STREAM = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
IDLE = {**STREAM, "model": IDLE_MODEL}


# A row: its section, its target's name, how it is measured and the call it measures.
Row = tuple[str, str, Callable[[Call], Figure], Call]


@dataclass(frozen=True)
class Upstreams:
    """Where the upstreams listen, and the token the gateway accepts."""

    origin: str
    nginx_proxy: str
    mock: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """The gateway's Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


def main() -> int:
    """Start the upstreams, measure each target in turn, print and keep the table."""
    ensure_tools()
    raise_open_files_limit()
    if ONLY & {"ai", "streams"}:
        litellm_proxy.ensure_installed()
    catalog.reset_stores(DATABASE_URL, REDIS_URL)
    report = new_report()
    with ExitStack() as stack:
        nginx = stack.enter_context(Nginx())
        mock_port = free_port()
        stack.enter_context(
            asgi_server(
                "uvicorn",
                "bench.upstream:application",
                port=mock_port,
                workers=1,
                env={},
                name="upstream",
            )
        )
        upstreams = prepare(nginx, f"http://127.0.0.1:{mock_port}")
        measure_upstreams(report, upstreams)
        measure_litellm(report, upstreams)
        for server in SERVERS:
            measure_server(report, server, upstreams)
    add_ratios(report)
    print(f"\n{report.text()}")
    print(f"(kept in {report.save()})")
    return 0


def prepare(nginx: Nginx, mock: str) -> Upstreams:
    """The benchmark catalog on these upstreams, and the token for it."""
    origin = f"http://127.0.0.1:{nginx.origin_port}"
    token = catalog.prepare(
        database_url=DATABASE_URL, redis_url=REDIS_URL, origin=origin, mock=mock
    )
    return Upstreams(origin, f"http://127.0.0.1:{nginx.proxy_port}", mock, token)


def new_report() -> Report:
    """The empty table: its header line and the sections measured, in print order."""
    late = f"late: still running {DEADLINE:.0f} s after the burst began (slower than any call)"
    report = Report(
        header=(
            f"{os.cpu_count()} cores. Servers: uvicorn {version('uvicorn')} (uvloop, httptools)"
            f" and granian {version('granian')} (uvloop), {WORKERS} worker processes each;"
            f" LiteLLM {litellm_proxy.VERSION} (its CLI: uvicorn, --num_workers {WORKERS})."
        ),
        sections={
            "rest": Section(
                f"REST throughput: wrk, {CONNECTIONS} connections, {SECONDS} s", WRK_HEAD
            ),
            "ai": Section(
                f"AI chat completions, not streamed: wrk POST, {CONNECTIONS} connections,"
                f" {SECONDS} s",
                WRK_HEAD,
            ),
            "calls": Section(
                f"{CALLS} concurrent calls to an upstream answering in 1 s (target: wall ≤ 1.5 s)."
                f" {late}",
                BURST_HEAD,
            ),
            "streams": Section(
                f"{CALLS} concurrent 2 s streams, 10 chunks 0.2 s apart (target: wall ≤ 2.6 s,"
                f" no worse than LiteLLM). {late}",
                BURST_HEAD,
            ),
            "memory": Section(
                f"One gateway process holding {IDLE_STREAMS} idle AI streams (one chunk, then"
                f" quiet); opened within {DEADLINE:.0f} s",
                MEMORY_HEAD,
            ),
        },
    )
    report.sections = {name: s for name, s in report.sections.items() if name in ONLY}
    return report


def measure_upstreams(report: Report, upstreams: Upstreams) -> None:
    """The floor of every figure: nginx, and the loopback upstream called directly."""
    print("upstreams, directly:", flush=True)
    chat = f"{upstreams.mock}/v1/chat/completions"
    measure_rows(
        report,
        "",
        [
            (
                "rest",
                "direct upstream (nginx static)",
                throughput,
                Call(f"{upstreams.origin}{PATH}"),
            ),
            ("rest", "nginx reverse proxy", throughput, Call(f"{upstreams.nginx_proxy}{PATH}")),
            ("ai", "direct mock", throughput, Call(chat, body=CHAT)),
            ("calls", "direct upstream", burst, Call(f"{upstreams.mock}/slow")),
            ("streams", "direct upstream, SSE", burst, Call(f"{upstreams.mock}/sse")),
            ("streams", "direct mock, chat stream", burst, Call(chat, body=STREAM)),
        ],
    )


def measure_litellm(report: Report, upstreams: Upstreams) -> None:
    """The LiteLLM proxy on the same mock, with as many workers as the gateway."""
    port = free_port()
    chat = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = litellm_proxy.headers()
    rows = selected(
        [
            ("ai", "LiteLLM proxy", throughput, Call(chat, headers, CHAT)),
            ("streams", "LiteLLM proxy, chat stream", burst, Call(chat, headers, STREAM)),
        ]
    )
    if not rows:
        return
    print("LiteLLM proxy:", flush=True)
    with started(litellm_proxy.proxy(mock=upstreams.mock, port=port, workers=WORKERS)) as failure:
        measure_rows(report, "", rows, failure=failure)


def measure_server(report: Report, server: str, upstreams: Upstreams) -> None:
    """The bare forwarder and the gateway under one ASGI server, then one gateway process's
    memory with idle streams."""
    print(f"{server}:", flush=True)
    measure_bare(report, server, upstreams)
    measure_gateway(report, server, upstreams)
    measure_memory(report, server, upstreams)


def measure_bare(report: Report, server: str, upstreams: Upstreams) -> None:
    """The bare async Django + httpx forwarder: the floor of any Django proxy."""
    if "rest" not in ONLY:
        return
    port, name = free_port(), f"bare Django + httpx [{server}]"
    env = {"BENCH_UPSTREAM": upstreams.origin}
    process = asgi_server(
        server, "bench.bare:application", port=port, workers=WORKERS, env=env, name=f"bare-{server}"
    )
    with started(process) as failure:
        report.add("rest", name, failure or throughput(Call(f"http://127.0.0.1:{port}{PATH}", {})))


def measure_gateway(report: Report, server: str, upstreams: Upstreams) -> None:
    """The gateway's rows: REST miss and hit, AI chat, and the bursts of slow calls."""
    port = free_port()
    process = gateway(server, port=port, workers=WORKERS)
    gw, auth = f"http://127.0.0.1:{port}/gw", upstreams.auth
    chat = f"{gw}/bench-ai/chat/completions"
    rows = selected(
        [
            ("rest", "gateway, cache miss", throughput, Call(f"{gw}/bench-miss{PATH}", auth)),
            ("rest", "gateway, cache hit", throughput, Call(f"{gw}/bench-hit{PATH}", auth)),
            ("ai", "gateway ai", throughput, Call(chat, auth, CHAT)),
            (
                "ai",
                "gateway ai, budgeted",
                throughput,
                Call(f"{gw}/bench-ai-budget/chat/completions", auth, CHAT),
            ),
            ("calls", "gateway REST", burst, Call(f"{gw}/bench-slow/", auth)),
            ("streams", "gateway REST, SSE", burst, Call(f"{gw}/bench-sse/", auth)),
            ("streams", "gateway ai, chat stream", burst, Call(chat, auth, STREAM)),
        ]
    )
    if not rows:
        return
    with started(process) as failure:
        measure_rows(
            report, f" [{server}]", rows, failure=failure, settle=f"http://127.0.0.1:{port}/healthz"
        )


def measure_rows(
    report: Report,
    suffix: str,
    rows: list[Row],
    *,
    failure: str | None = None,
    settle: str = "",
) -> None:
    """Each selected row's figure (or the server's failure to start) into its section; after
    each row the server at `settle` gets time to finish what a burst cut short left it doing."""
    for section, name, measure, call in selected(rows):
        report.add(section, f"{name}{suffix}", failure or measure(call))
        if settle and not failure:
            wait_until_prompt(settle)


def selected(rows: list[Row]) -> list[Row]:
    """The rows of the sections BENCH_ONLY names."""
    return [row for row in rows if row[0] in ONLY]


def measure_memory(report: Report, server: str, upstreams: Upstreams) -> None:
    """RSS of one gateway process before and while it holds IDLE_STREAMS idle streams."""
    if "memory" not in ONLY:
        return
    port = free_port()
    process = gateway(server, port=port, workers=1)
    gw = f"http://127.0.0.1:{port}/gw"
    with started(process) as failure:
        failure = failure or check(Call(f"{gw}/bench-ai/chat/completions", upstreams.auth, CHAT))
        idle = Call(f"{gw}/bench-ai-idle/chat/completions", upstreams.auth, IDLE)
        figure = failure or memory.idle_streams(
            idle, server_pid=process.pid, streams=IDLE_STREAMS, deadline=DEADLINE
        )
        report.add("memory", f"gateway [{server}]", figure)


def gateway(server: str, *, port: int, workers: int) -> Process:
    """The project's ASGI application under `server` on the benchmark stores, quiet, no debug."""
    env = {
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }
    name = f"gateway-{server}-{workers}"
    return asgi_server(
        server, "portal.asgi:application", port=port, workers=workers, env=env, name=name
    )


@contextlib.contextmanager
def started(process: Process) -> Iterator[str | None]:
    """Run the process for the block, which gets why it did not start (a row's text) or None."""
    try:
        process.__enter__()
    except (TimeoutError, ChildProcessError):
        yield f"not measured: {process.failure()}"
        return
    try:
        yield None
    finally:
        process.__exit__()


def throughput(call: Call) -> wrk.Result | str:
    """wrk on a checked, warm target; a call with a body is the chat POST of wrk's script."""
    failure = check(call, warm=20)
    script = wrk.CHAT_SCRIPT if call.body else None
    return failure or wrk.run(
        call.url, connections=CONNECTIONS, seconds=SECONDS, headers=call.headers, script=script
    )


def burst(call: Call) -> load.Burst | str:
    """CALLS copies of a checked call at once."""
    return check(call, warm=1) or load.burst(call, calls=CALLS, deadline=DEADLINE)


def check(call: Call, *, warm: int = 1) -> str | None:
    """Wait for the target's first answer (a server's workers may start after it listens),
    then warm its caches and pools with `warm` calls; why it is not measured, or None."""
    answer = first_answer(call)
    for _ in range(warm):
        if answer is None or answer.status_code != 200:
            break
        answer = call.send(timeout=30)
    if answer is None:
        return "not measured: no answer within 90 s"
    if answer.status_code != 200:
        return f"not measured: answered {answer.status_code} {answer.text[:80]!r}"
    return None


def first_answer(call: Call) -> httpx.Response | None:
    """The target's first HTTP answer, retried while it cannot answer at all (90 s at most)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            return call.send(timeout=30)
        except httpx.HTTPError:
            time.sleep(0.5)
    return None


def wait_until_prompt(url: str) -> None:
    """Wait (a minute at most) until the server answers promptly again: a burst cut short may
    leave it working through calls whose clients have gone."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            continue


@dataclass(frozen=True)
class Ratio:
    """One ratio line: two rows of a section (`{server}` in a name is the server's), and
    whether it divides the first byte's p50 (else the requests/s, or a burst's wall time)."""

    section: str
    name: str
    numerator: str
    denominator: str
    target: str
    first_byte: bool = False


SSE, DIRECT_SSE = "gateway REST, SSE [{server}]", "direct upstream, SSE"
AI_STREAMS, DIRECT_AI_STREAMS = "gateway ai, chat stream [{server}]", "direct mock, chat stream"
BARE = "bare Django + httpx [{server}]"
# The direct streams' wall targets are the issue's 2.6 s over the direct upstream's 2.36 s.
RATIOS = [
    Ratio("rest", "cache miss / bare", "gateway, cache miss [{server}]", BARE, "≥ 0.6x"),
    Ratio("rest", "cache hit / bare", "gateway, cache hit [{server}]", BARE, "≥ 1.0x"),
    Ratio("ai", "AI chat gateway / LiteLLM", "gateway ai [{server}]", "LiteLLM proxy", "≥ 3x"),
    Ratio(
        "ai",
        "AI chat budgeted / unbudgeted",
        "gateway ai, budgeted [{server}]",
        "gateway ai [{server}]",
        "≥ 0.9x",
    ),
    Ratio(
        "streams",
        "AI streams wall gateway / LiteLLM",
        AI_STREAMS,
        "LiteLLM proxy, chat stream",
        "≤ 1.0x",
    ),
    Ratio("streams", "SSE wall / direct", SSE, DIRECT_SSE, "≤ 1.1x"),
    Ratio("streams", "SSE 1st byte / direct", SSE, DIRECT_SSE, "none", first_byte=True),
    Ratio("streams", "AI streams wall / direct", AI_STREAMS, DIRECT_AI_STREAMS, "≤ 1.1x"),
    Ratio(
        "streams",
        "AI streams 1st byte / direct",
        AI_STREAMS,
        DIRECT_AI_STREAMS,
        "none",
        first_byte=True,
    ),
]


def add_ratios(report: Report) -> None:
    """Per server, the ratios of the sections measured (RATIOS)."""
    for server in SERVERS:
        report.ratios += [
            ratio_line(
                f"{ratio.name} [{server}]",
                report.figure(ratio.section, ratio.numerator.format(server=server)),
                report.figure(ratio.section, ratio.denominator.format(server=server)),
                ratio.target,
                first_byte=ratio.first_byte,
            )
            for ratio in RATIOS
            if ratio.section in ONLY
        ]


if __name__ == "__main__":
    sys.exit(main())
