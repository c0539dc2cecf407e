"""What idle streams cost: the resident memory of one gateway process before and after it
holds N open streams to an upstream that sent one chunk and went quiet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import load

PROC = Path("/proc")


@dataclass(frozen=True)
class Memory:
    """RSS of the serving process in KiB, before and with `opened` of `streams` streams open."""

    streams: int
    opened: int
    before_kib: int
    after_kib: int

    @property
    def per_stream_kib(self) -> float | None:
        """(after - before) / streams; None unless every stream opened."""
        if self.opened < self.streams:
            return None
        return (self.after_kib - self.before_kib) / self.streams


def idle_streams(call: load.Call, *, server_pid: int, streams: int, deadline: float) -> Memory:
    """Open `streams` at once on a warm server and read its serving process's RSS."""
    worker = serving_process(server_pid)
    before = rss_kib(worker)
    opened, after = load.hold(
        call, calls=streams, deadline=deadline, measure=lambda: rss_kib(worker)
    )
    return Memory(streams=streams, opened=opened, before_kib=before, after_kib=after)


def serving_process(root: int) -> int:
    """The process of the tree under `root` that serves: the largest, as it has loaded the
    application (a server's supervisor and helpers have not)."""
    return max(_tree(root), key=rss_kib)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB."""
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses; the fields follow the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree
