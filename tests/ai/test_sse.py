"""Reading providers' streams: server-sent events and NDJSON out of bytes cut anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from apis.ai.sse import EventSplitter, ndjson, sse_batches, sse_json

# Two events, the first of two data lines, the second with its event name, an id and a comment;
# then an event of no data (skipped) and the `data` field without a colon (an empty line of
# data). Written with \n line ends; the tests rewrite them as each grammar allows.
STREAM = (
    ": a comment\n"
    'data: {"a":\n'
    "data:  1}\n"
    "\n"
    "event: delta\n"
    "id: 7\n"
    'data:{"b": "é ✓"}\n'
    "\n"
    "event: ping\n"
    "\n"
    "data\n"
    "\n"
)
EVENTS = [b'{"a":\n 1}', '{"b": "é ✓"}'.encode(), b""]


def every_cut(body: bytes) -> Iterable[list[bytes]]:
    """The body in two reads cut at each byte, then one byte per read."""
    for at in range(len(body) + 1):
        yield [body[:at], body[at:]]
    yield [body[i : i + 1] for i in range(len(body))]


def split(reads: list[bytes]) -> list[bytes]:
    splitter = EventSplitter()
    events = [data for read in reads for data in splitter.feed(read)]
    last = splitter.close()
    return events if last is None else [*events, last]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_events_come_out_whole_wherever_the_reads_cut_them(end):
    body = STREAM.replace("\n", end).encode()
    for reads in every_cut(body):
        assert split(reads) == EVENTS, reads


def test_a_crlf_cut_between_its_two_bytes_ends_one_line_not_two():
    splitter = EventSplitter()
    assert splitter.feed(b"data: 1\r") == []
    assert splitter.feed(b"\ndata: 2\r\n\r\n") == [b"1\n2"]


def test_a_last_event_without_its_blank_line_is_read_at_the_end():
    for end in ("", "\n", "\r\n", "\r"):
        body = f"data: 1\n\ndata: 2{end}".encode()
        for reads in every_cut(body):
            assert split(reads) == [b"1", b"2"], reads


def test_one_leading_space_of_data_is_dropped_and_no_more():
    assert split([b"data:  two spaces\n\ndata:none\n\n"]) == [b" two spaces", b"none"]


@async_to_sync
async def _collected(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


async def _reads(reads: list[bytes]) -> AsyncIterator[bytes]:
    for read in reads:
        yield read


def test_each_read_gives_the_events_it_completes_and_done_ends_the_stream():
    reads = [
        b'data: {"n":1}\n\ndata: {"n"',
        b':2}\n\ndata: {"n":3}\n\ndata: [DONE]\n\n',
        b"data: 4\n\n",
    ]
    assert _collected(sse_batches(_reads(reads))) == [[b'{"n":1}'], [b'{"n":2}', b'{"n":3}']]


def test_a_stream_ending_on_done_without_its_blank_line_ends_there():
    assert _collected(sse_batches(_reads([b"data: 1\n\ndata: [DONE]"]))) == [[b"1"]]


def test_json_events_are_read_as_utf8_a_stray_byte_replaced():
    body = 'data: {"t": "é"}\n\n'.encode() + b'data: {"t": "\xff"}\n\n'
    for reads in every_cut(body):
        assert _collected(sse_json(_reads(reads))) == [{"t": "é"}, {"t": "\ufffd"}]


def test_ndjson_lines_come_out_whole_wherever_the_reads_cut_them():
    body = '{"a": 1}\r\n\n{"b": "✓"}\n{"c": 3}'.encode()
    for reads in every_cut(body):
        assert _collected(ndjson(_reads(reads))) == [{"a": 1}, {"b": "✓"}, {"c": 3}], reads
