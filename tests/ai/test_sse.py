"""Reading providers' streams: server-sent events and NDJSON out of bytes cut anywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings

from apis.ai.sse import DATA_FIELD, EventSplitter, EventTooLarge, ndjson, sse_batches, sse_json

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


def split(reads: list[bytes], *, limit: int | None = None) -> list[bytes]:
    splitter = EventSplitter(limit)
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


# Events and lines at the limit -----------------------------------------------------------------

LIMIT = 64


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_an_event_of_exactly_the_limit_passes_and_one_byte_more_breaks_the_stream(end):
    at_limit = f"data: {'x' * LIMIT}{end}{end}".encode()
    over = f"data: {'x' * (LIMIT + 1)}{end}{end}".encode()
    for reads in every_cut(at_limit):
        assert split(reads, limit=LIMIT) == [b"x" * LIMIT], reads
    for reads in every_cut(over):
        with pytest.raises(EventTooLarge, match=f"limit of {LIMIT} bytes"):
            split(reads, limit=LIMIT)


def test_an_event_of_many_lines_is_measured_as_its_data_joined():
    # 31 + LF + 32 bytes: the limit; one more byte on either line is over it.
    at_limit = [b"data: " + b"a" * 31 + b"\ndata:" + b"b" * 32 + b"\n\n"]
    assert split(at_limit, limit=LIMIT) == [b"a" * 31 + b"\n" + b"b" * 32]
    with pytest.raises(EventTooLarge):
        split([b"data: " + b"a" * 31 + b"\ndata: " + b"b" * 33 + b"\n\n"], limit=LIMIT)
    # Lines of no data: the LFs joining them count.
    assert split([b"data\n" * (LIMIT + 1) + b"\n"], limit=LIMIT) == [b"\n" * LIMIT]
    with pytest.raises(EventTooLarge):
        split([b"data\n" * (LIMIT + 2) + b"\n"], limit=LIMIT)


def test_events_each_within_the_limit_pass_however_long_the_stream():
    event = b"data: " + b"x" * LIMIT + b"\n\n"
    assert split([event * 100], limit=LIMIT) == [b"x" * LIMIT] * 100


@pytest.mark.parametrize("start", [b"data: ", b": a comment ", b"event: "])
def test_a_line_that_never_ends_is_refused_before_it_holds_more_than_the_limit(start):
    splitter = EventSplitter(LIMIT)
    fed = len(start)
    splitter.feed(start)
    with pytest.raises(EventTooLarge):
        while fed < 100 * LIMIT:
            fed += 10
            splitter.feed(b"x" * 10)
    # Refused with the read that took the unfinished line past the limit and its field name.
    assert LIMIT + DATA_FIELD < fed <= LIMIT + DATA_FIELD + 10


def test_an_event_that_never_ends_is_refused_once_its_data_is_over_the_limit():
    splitter = EventSplitter(LIMIT)
    lines = 0
    with pytest.raises(EventTooLarge):
        while lines < 100 * LIMIT:
            splitter.feed(b"data: xxxxxxx\n")
            lines += 1
    # Seven bytes a line, and the LF joining it to the one before: 63 after eight, the ninth over.
    assert lines == 8


@override_settings(PORTCULLIS={"GATEWAY": {"STREAM_EVENT_LIMIT": LIMIT}})
@pytest.mark.parametrize(
    "too_large", [b"data: " + b"x" * LIMIT * 2, b"data: " + b"x" * LIMIT * 2 + b"\n"]
)
def test_the_events_a_read_completes_before_one_too_large_come_out_first(too_large):
    reads = [b"data: 0\n\n", b"data: 1\n\ndata: 2\n\n" + too_large, b"data: 3\n\n"]
    assert _until_broken(sse_batches(_reads(reads))) == [[b"0"], [b"1", b"2"]]


@async_to_sync
async def _until_broken(batches: AsyncIterator[list[bytes]]) -> list[list[bytes]]:
    """The batches that come out before the stream breaks off over the limit."""
    out = []
    with pytest.raises(EventTooLarge):
        async for batch in batches:
            out.append(batch)
    return out


@override_settings(PORTCULLIS={"GATEWAY": {"STREAM_EVENT_LIMIT": LIMIT}})
def test_the_splitter_and_ndjson_take_the_gateways_limit():
    at_limit = b'{"t": "' + b"x" * (LIMIT - 9) + b'"}'
    assert len(at_limit) == LIMIT
    assert split([b"data: " + b"x" * LIMIT + b"\n\n"]) == [b"x" * LIMIT]
    with pytest.raises(EventTooLarge):
        split([b"data: " + b"x" * (LIMIT + 1) + b"\n\n"])
    for reads in every_cut(at_limit + b"\n" + at_limit):
        assert _collected(ndjson(_reads(reads))) == [{"t": "x" * (LIMIT - 9)}] * 2, reads
    for reads in every_cut(at_limit + b" \n"):
        with pytest.raises(EventTooLarge):
            _collected(ndjson(_reads(reads)))
