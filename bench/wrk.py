"""Driving one target with wrk and reading its throughput and latency percentiles."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHAT_SCRIPT = Path(__file__).with_name("chat.lua")
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Result:
    """What wrk measured: requests per second, latency percentiles in ms, failed answers."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int


def run(
    url: str,
    *,
    connections: int,
    seconds: int,
    headers: dict[str, str],
    script: Path | None = None,
) -> Result:
    """wrk against `url` with a fixed number of keep-alive connections for `seconds`; a Lua
    `script` makes the request (the POST rows)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command += ["-s", str(script)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return parse(output)


def parse(output: str) -> Result:
    """The figures of wrk's `--latency` report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    failures = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", output)
    return Result(
        requests_per_second=rps,
        p50_ms=_percentile(output, "50"),
        p99_ms=_percentile(output, "99"),
        failures=int(failures[1] if failures else 0) + int(errors[1] if errors else 0),
    )


def _percentile(output: str, rank: str) -> float:
    value, unit = re.search(rf"^\s+{rank}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE).groups()
    return float(value) * UNITS[unit]
