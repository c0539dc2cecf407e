"""The Chat Completions relay: an OpenAI-format provider's chunks passed on with the model
renamed, exactly as the translating writer would have written them, and their text counted."""

from __future__ import annotations

import json
from typing import Any

from apis.ai import openai
from apis.ai.chat import StreamState, Usage
from apis.ai.formats.chat import UNREAD_LIMIT, ChatRelay, ChatWriter

REF = "prov/gpt-é"
USAGE = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt"}
    return {**head, "usage": None, "choices": [choice], **extra}


def compact(payload: dict[str, Any]) -> bytes:
    """A chunk as OpenAI writes it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# Text that looks like the fields the relay rewrites, which must come through untouched.
TRICKY = 'say "model":"x", "usage":null, "choices":[{ \\ done'
CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Héllo"}),
    chunk({"content": TRICKY}),
    chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a": 1}'}}]}),
    chunk({}, "stop"),
    {**chunk({}), "choices": [], "usage": USAGE},
]


def relayed(reads: list[list[bytes]], *, include_usage: bool = False) -> tuple[list[bytes], Any]:
    state = StreamState(model=REF)
    relay = ChatRelay(state, include_usage=include_usage)
    pieces = [piece for read in reads for piece in relay.write(read)]
    return pieces, relay


def translated(chunks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], ChatWriter]:
    """What the translating path writes for the same chunks, parsed."""
    writer = ChatWriter(StreamState(model=REF), include_usage=False)
    events = []
    for payload in json.loads(json.dumps(chunks)):
        renamed = openai.read_chunk(payload, writer.state)
        if renamed is not None:
            events += [event for piece in writer.write(renamed) for event in parsed(piece)]
    return events, writer


def parsed(piece: bytes) -> list[dict[str, Any]]:
    assert piece.endswith(b"\n\n")
    return [json.loads(e.removeprefix(b"data: ")) for e in piece[:-2].split(b"\n\n")]


def test_relayed_chunks_read_as_the_translated_ones_renamed_without_usage():
    pieces, relay = relayed([[compact(c)] for c in CHUNKS])

    events = [event for piece in pieces for event in parsed(piece)]
    expected, writer = translated(CHUNKS)
    assert events == expected
    assert all(e["model"] == REF and "usage" not in e for e in events)
    assert events[2]["choices"][0]["delta"]["content"] == TRICKY
    assert relay.state.usage == Usage(9, 4)
    assert relay.state.id == "chatcmpl-1"
    assert relay.written() == writer.written() == f"Héllo{TRICKY}f" + '{"a": 1}'


def test_chunks_after_the_first_go_on_as_the_provider_wrote_them_but_for_the_model():
    pieces, _relay = relayed([[compact(c)] for c in CHUNKS])

    model = b'"model":' + json.dumps(REF).encode()
    for piece, sent in zip(pieces[1:], CHUNKS[1:5], strict=True):
        kept = compact(sent).replace(b'"model":"gpt"', model).replace(b',"usage":null', b"")
        assert piece == b"data: " + kept + b"\n\n"


def test_what_one_read_completes_goes_out_as_one_piece():
    pieces, _relay = relayed([[compact(c) for c in CHUNKS[:3]], [compact(c) for c in CHUNKS[3:]]])

    assert len(pieces) == 2
    assert [len(parsed(p)) for p in pieces] == [3, 2]


def test_chunks_laid_out_otherwise_are_translated_in_full():
    spaced = [json.dumps(c).encode() for c in CHUNKS]
    no_usage_field = [compact({k: v for k, v in c.items() if k != "usage"}) for c in CHUNKS[:-1]]
    escaped_model = [compact({**c, "model": 'g"p\\t'}) for c in CHUNKS[:-1]]

    for payloads in (spaced, no_usage_field, escaped_model):
        pieces, relay = relayed([[p] for p in payloads])
        events = [event for piece in pieces for event in parsed(piece)]
        assert [e["model"] for e in events] == [REF] * 5
        assert all("usage" not in e for e in events)
        assert relay.written() == f"Héllo{TRICKY}f" + '{"a": 1}'


def test_a_usage_on_a_chunk_with_choices_is_read_as_mistral_sends_it():
    closing = compact({**chunk({}, "stop"), "usage": USAGE})
    pieces, relay = relayed([[compact(CHUNKS[0]), compact(CHUNKS[1]), closing]])

    assert relay.state.usage == Usage(9, 4)
    assert [e["choices"][0]["finish_reason"] for e in parsed(pieces[0])] == [None, None, "stop"]


def test_a_chunk_that_is_not_json_is_passed_on_and_counts_for_nothing():
    broken = compact(CHUNKS[1]).replace(b"}]}", b"]}")
    _pieces, relay = relayed([[compact(CHUNKS[0]), broken, compact(CHUNKS[2])]])

    assert relay.written() == TRICKY


def test_text_of_a_long_stream_is_counted_whole():
    piece = "x" * 1000
    reads = [[compact(CHUNKS[0])]] + [[compact(chunk({"content": piece}))]] * 200
    _pieces, relay = relayed(reads)

    assert UNREAD_LIMIT < 200 * 1000
    assert relay.written() == piece * 200


def test_the_usage_chunk_closes_the_stream_when_the_client_asked():
    _pieces, relay = relayed([[compact(c) for c in CHUNKS]], include_usage=True)
    closing = relay.end(relay.state.usage)

    usage_chunk = json.loads(closing[0].removeprefix(b"data: "))
    assert usage_chunk["usage"] == USAGE
    assert usage_chunk["id"] == "chatcmpl-1" and usage_chunk["model"] == REF
    assert closing[1] == b"data: [DONE]\n\n"
