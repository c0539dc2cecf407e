"""Fake AI providers: a real HTTP server on loopback speaking each provider's wire format.

The model name chooses the behaviour: `ok-model` answers text, `tool-model` calls get_weather,
`json-ok` answers JSON, `json-bad` answers prose, `json-flaky` answers prose then JSON on the
retry, `error-<status>` refuses with that status in the provider's error format, `slow` answers
after two seconds, `breaks-midway` (Anthropic) sends an error event inside its
stream, `no-usage` (OpenAI's format) streams without a usage chunk. OpenAI's Responses API,
Anthropic's count_tokens and every kind's embeddings answer too. Every request is kept in
`requests` as (path, headers, JSON body).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers import LoopThreadServer, QuietServer

PROMPT_TOKENS, COMPLETION_TOKENS = 11, 7
WORDS = ["Hello", " from", " the", " fake"]
TOOL_ARGS = '{"city": "Paris"}'
# The base_url each provider's official SDK takes, relative to the fake's root.
BASE_PATHS = {
    "openai": "/v1",
    "mistral": "/v1",
    "openai_compatible": "/v1",
    "anthropic": "",
    "gemini": "",
    "ollama": "",
}


class Behaviour:
    """What a fake provider does for one request, from the model name and messages."""

    def __init__(self, model: str, retried: bool) -> None:
        self.model = model
        self.error = int(model.split("-", 1)[1]) if model.startswith("error-") else 0
        self.tool = model == "tool-model"
        if model == "json-ok" or (model == "json-flaky" and retried):
            self.text = '{"sentiment": "positive"}'
        elif model in ("json-bad", "json-flaky"):
            self.text = "I think it is positive."
        else:
            self.text = "".join(WORDS)

    @property
    def pieces(self) -> list[str]:
        return WORDS if self.text == "".join(WORDS) else [self.text]


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, dict(self.headers.items()), body))
        if self.path.endswith(("/embeddings", ":batchEmbedContents", "/api/embed")):
            self._send_json(200, embeddings_answer(self.path, body))
            return
        if self.path.endswith("/v1/messages/count_tokens"):
            self._send_json(200, {"input_tokens": PROMPT_TOKENS})
            return
        kind, model, stream = self._route(body)
        messages = body.get("messages") or body.get("contents") or []
        messages = messages if isinstance(messages, list) else []
        behaviour = Behaviour(model, retried=any(_is_assistant(m) for m in messages))
        if model == "slow":
            time.sleep(2)
        if behaviour.error:
            self._send_json(behaviour.error, ERRORS[kind](behaviour.error))
        elif stream:
            self._stream(kind, STREAMS[kind](behaviour, self.server.flavour))
        else:
            self._send_json(200, ANSWERS[kind](behaviour, self.server.flavour))

    def _route(self, body: dict[str, Any]) -> tuple[str, str, bool]:
        if self.path.endswith("/chat/completions"):
            return "openai", body["model"], bool(body.get("stream"))
        if self.path.endswith("/v1/responses"):
            return "responses", body["model"], bool(body.get("stream"))
        if self.path.endswith("/v1/messages"):
            return "anthropic", body["model"], bool(body.get("stream"))
        if "/v1beta/models/" in self.path:
            model, _, method = self.path.split("/v1beta/models/")[1].partition(":")
            return "gemini", model, method.startswith("streamGenerateContent")
        return "ollama", body["model"], body.get("stream", True)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "7")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, kind: str, events: list[bytes]) -> None:
        self.send_response(200)
        ndjson = kind == "ollama"
        self.send_header("Content-Type", "application/x-ndjson" if ndjson else "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        return


def _is_assistant(message: dict[str, Any]) -> bool:
    return message.get("role") in ("assistant", "model")


def _compact_sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _sse(payload: Any, event: str = "") -> bytes:
    head = f"event: {event}\n" if event else ""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"{head}data: {data}\n\n".encode()


# OpenAI, Mistral and the compatible ones ------------------------------------------------------


def openai_answer(b: Behaviour, flavour: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None if b.tool else b.text}
    if b.tool:
        call_id = "D681PevKs" if flavour == "mistral" else "call_abc123"
        message["tool_calls"] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": TOOL_ARGS},
            }
        ]
    if flavour == "openai":
        message["refusal"] = None
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": b.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if b.tool else "stop",
            }
        ],
        "usage": _openai_usage(),
    }


def _openai_usage() -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def openai_stream(b: Behaviour, flavour: str) -> list[bytes]:
    # OpenAI writes compact JSON and, as the gateway asks for the usage, `"usage": null` on
    # every chunk but the usage's own (a provider that sends no usage, no such field); Mistral
    # writes neither.
    openai = flavour == "openai"
    no_usage = {"usage": None} if openai and b.model != "no-usage" else {}

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        head = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000}
        return {**head, "model": b.model, **no_usage, "choices": [choice], **extra}

    events = [chunk({"role": "assistant", "content": ""})]
    if b.tool:
        call = {
            "index": 0,
            "id": "call_abc123",
            "type": "function",
            "function": {"name": "get_weather", "arguments": ""},
        }
        events.append(chunk({"tool_calls": [call]}))
        for piece in ('{"city": ', '"Paris"}'):
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        events += [chunk({"content": piece}) for piece in b.pieces]
    finish = "tool_calls" if b.tool else "stop"
    if b.model == "no-usage":
        events.append(chunk({}, finish))
    elif flavour == "mistral":
        # Mistral puts the usage on the closing chunk itself.
        events.append(chunk({}, finish, usage=_openai_usage()))
    else:
        events.append(chunk({}, finish))
        last = {**chunk({}), "choices": [], "usage": _openai_usage()}
        events.append(last)
    write = _compact_sse if openai else _sse
    return [write(e) for e in events] + [_sse("[DONE]")]


def openai_error(status: int) -> dict[str, Any]:
    kinds = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
    return {
        "error": {
            "message": f"Fake refusal {status}",
            "type": "invalid_request_error" if status < 500 else "server_error",
            "param": None,
            "code": kinds.get(status),
        }
    }


# Anthropic -------------------------------------------------------------------------------------


def anthropic_answer(b: Behaviour, flavour: str) -> dict[str, Any]:
    content = (
        [
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "get_weather",
                "input": {"city": "Paris"},
            }
        ]
        if b.tool
        else [{"type": "text", "text": b.text}]
    )
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": b.model,
        "content": content,
        "stop_reason": "tool_use" if b.tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
    }


def anthropic_stream(b: Behaviour, flavour: str) -> list[bytes]:
    if b.model == "breaks-midway":
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        # message_start, the text block's start, a ping and two text deltas, then the error.
        return [*anthropic_stream(Behaviour("ok-model", False), flavour)[:5], _sse(error, "error")]
    message = {**anthropic_answer(b, flavour), "content": [], "stop_reason": None}
    message["usage"] = {"input_tokens": PROMPT_TOKENS, "output_tokens": 1}
    events = [("message_start", {"type": "message_start", "message": message})]
    if b.tool:
        block = {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {},
        }
        deltas = [
            {"type": "input_json_delta", "partial_json": p} for p in ('{"city": ', '"Paris"}')
        ]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in b.pieces]
    events.append(
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
    )
    events.append(("ping", {"type": "ping"}))
    events += [
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": d})
        for d in deltas
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    stop = {"stop_reason": "tool_use" if b.tool else "end_turn", "stop_sequence": None}
    events.append(
        (
            "message_delta",
            {"type": "message_delta", "delta": stop, "usage": {"output_tokens": COMPLETION_TOKENS}},
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return [_sse(payload, name) for name, payload in events]


def anthropic_error(status: int) -> dict[str, Any]:
    kinds = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
    kinds |= {
        404: "not_found_error",
        413: "request_too_large",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    return {
        "type": "error",
        "error": {"type": kinds.get(status, "api_error"), "message": f"Fake refusal {status}"},
    }


# Gemini ----------------------------------------------------------------------------------------


def gemini_answer(b: Behaviour, flavour: str) -> dict[str, Any]:
    parts = (
        [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]
        if b.tool
        else [{"text": b.text}]
    )
    return _gemini_chunk(b.model, parts, "STOP", PROMPT_TOKENS, COMPLETION_TOKENS)


def _gemini_chunk(
    model: str, parts: list[dict[str, Any]], finish: str | None, prompt: int, output: int
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "fake-gemini-1",
    }


def gemini_stream(b: Behaviour, flavour: str) -> list[bytes]:
    if b.tool:
        return [_sse(gemini_answer(b, flavour))]
    pieces = b.pieces
    chunks = [
        _gemini_chunk(
            b.model,
            [{"text": piece}],
            "STOP" if i == len(pieces) - 1 else None,
            PROMPT_TOKENS,
            i + 1,
        )
        for i, piece in enumerate(pieces)
    ]
    chunks[-1]["usageMetadata"]["candidatesTokenCount"] = COMPLETION_TOKENS
    chunks[-1]["usageMetadata"]["totalTokenCount"] = PROMPT_TOKENS + COMPLETION_TOKENS
    return [f"data: {json.dumps(c)}\r\n\r\n".encode() for c in chunks]


def gemini_error(status: int) -> dict[str, Any]:
    names = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
    }
    names |= {
        408: "DEADLINE_EXCEEDED",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }
    return {
        "error": {
            "code": status,
            "message": f"Fake refusal {status}",
            "status": names.get(status, "UNKNOWN"),
        }
    }


# Ollama ----------------------------------------------------------------------------------------


def ollama_answer(b: Behaviour, flavour: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "" if b.tool else b.text}
    if b.tool:
        message["tool_calls"] = [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
        ]
    return {
        "model": b.model,
        "created_at": "2025-01-01T00:00:00.000000Z",
        "message": message,
        "done_reason": "stop",
        "done": True,
        "total_duration": 4883583458,
        "load_duration": 1334875,
        "prompt_eval_count": PROMPT_TOKENS,
        "prompt_eval_duration": 342546000,
        "eval_count": COMPLETION_TOKENS,
        "eval_duration": 4535599000,
    }


def ollama_stream(b: Behaviour, flavour: str) -> list[bytes]:
    head = {"model": b.model, "created_at": "2025-01-01T00:00:00.000000Z"}
    if b.tool:
        lines = [{**head, "message": ollama_answer(b, flavour)["message"], "done": False}]
    else:
        lines = [
            {**head, "message": {"role": "assistant", "content": p}, "done": False}
            for p in b.pieces
        ]
    final = {**ollama_answer(b, flavour), "message": {"role": "assistant", "content": ""}}
    return [json.dumps(line).encode() + b"\n" for line in [*lines, final]]


def ollama_error(status: int) -> dict[str, Any]:
    return {"error": f"Fake refusal {status}"}


# OpenAI's Responses API ----------------------------------------------------------------------


def responses_answer(b: Behaviour, flavour: str) -> dict[str, Any]:
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1_700_000_000,
        "status": "completed",
        "model": b.model,
        "output": [_responses_item(b)],
        "usage": {
            "input_tokens": PROMPT_TOKENS,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": COMPLETION_TOKENS,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
    }


def _responses_item(b: Behaviour, status: str = "completed") -> dict[str, Any]:
    if b.tool:
        return {
            "type": "function_call",
            "id": "fc_fake",
            "call_id": "call_abc123",
            "name": "get_weather",
            "arguments": TOOL_ARGS if status == "completed" else "",
            "status": status,
        }
    part = {"type": "output_text", "text": b.text, "annotations": []}
    content = [part] if status == "completed" else []
    return {
        "type": "message",
        "id": "msg_fake",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def responses_stream(b: Behaviour, flavour: str) -> list[bytes]:
    done = responses_answer(b, flavour)
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    where = {"item_id": "fc_fake" if b.tool else "msg_fake", "output_index": 0}
    events = [
        {"type": "response.created", "response": started},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _responses_item(b, "in_progress"),
        },
    ]
    if b.tool:
        events += [
            {"type": "response.function_call_arguments.delta", **where, "delta": piece}
            for piece in ('{"city": ', '"Paris"}')
        ]
        events.append(
            {"type": "response.function_call_arguments.done", **where, "arguments": TOOL_ARGS}
        )
    else:
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append(
            {"type": "response.content_part.added", **where, "content_index": 0, "part": part}
        )
        events += [
            {"type": "response.output_text.delta", **where, "content_index": 0, "delta": piece}
            for piece in b.pieces
        ]
        events.append(
            {"type": "response.output_text.done", **where, "content_index": 0, "text": b.text}
        )
    events.append(
        {"type": "response.output_item.done", "output_index": 0, "item": _responses_item(b)}
    )
    events.append({"type": "response.completed", "response": done})
    return [_sse({**e, "sequence_number": n}, e["type"]) for n, e in enumerate(events)]


# Embeddings, each kind's own ----------------------------------------------------------------


def vector(index: int, dimensions: int | None) -> list[float]:
    """The fake's embedding of the index-th text: 0.5 then the index, padded to the size."""
    return ([0.5, float(index)] + [0.25] * 6)[: dimensions or 8]


def embeddings_answer(path: str, body: dict[str, Any]) -> dict[str, Any]:
    if path.endswith(":batchEmbedContents"):
        requests = body["requests"]
        sizes = [r.get("outputDimensionality") for r in requests]
        return {"embeddings": [{"values": vector(i, n)} for i, n in enumerate(sizes)]}
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    size = body.get("dimensions") or body.get("output_dimension")
    if path.endswith("/api/embed"):
        vectors = [vector(i, size) for i in range(len(texts))]
        return {"model": body["model"], "embeddings": vectors, "prompt_eval_count": PROMPT_TOKENS}
    data = [
        {"object": "embedding", "index": i, "embedding": vector(i, size)} for i in range(len(texts))
    ]
    usage = {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS}
    return {"object": "list", "data": data, "model": body["model"], "usage": usage}


ANSWERS = {
    "openai": openai_answer,
    "responses": responses_answer,
    "anthropic": anthropic_answer,
    "gemini": gemini_answer,
    "ollama": ollama_answer,
}
STREAMS = {
    "openai": openai_stream,
    "responses": responses_stream,
    "anthropic": anthropic_stream,
    "gemini": gemini_stream,
    "ollama": ollama_stream,
}
ERRORS = {
    "openai": openai_error,
    "responses": openai_error,
    "anthropic": anthropic_error,
    "gemini": gemini_error,
    "ollama": ollama_error,
}


class FakeProvider:
    """One fake provider on a free loopback port; `flavour` is the provider kind it imitates."""

    def __init__(self, flavour: str) -> None:
        self.server = QuietServer(("127.0.0.1", 0), FakeHandler)
        self.server.requests = []
        self.server.flavour = flavour
        self.flavour = flavour
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = self.root + BASE_PATHS[flavour]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def requests(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        return self.server.requests

    def __enter__(self) -> FakeProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class StreamingProvider(LoopThreadServer):
    """An OpenAI-compatible provider on an asyncio server of its own, for streams by the hundred.

    Each chat stream answers its headers and a first chunk at once, then `chunks` more, one per
    `interval` seconds, each carrying the usage so far (as vLLM does with continuous usage).
    With `hold_until`, the rest of every stream waits until that many are open at the same
    moment (or `hold_timeout` has passed). It counts the streams open now and at most, and the
    moments at which the gateway closed a connection before its stream was over.
    """

    def __init__(
        self,
        *,
        chunks: int = 4,
        interval: float = 0.0,
        hold_until: int = 0,
        hold_timeout: float = 30.0,
    ) -> None:
        self.chunks, self.interval = chunks, interval
        self.hold_until, self.hold_timeout = hold_until, hold_timeout
        self.open = self.peak = 0
        self.cut_short: list[float] = []
        super().__init__()

    async def _start(self) -> None:
        self.enough = asyncio.Event()
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
        self.base_url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            body = await _read_request(reader)
            await self._stream(reader, writer, body.get("model", ""))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, model: str
    ) -> None:
        # The gateway sends nothing after its request: EOF here is the gateway hanging up.
        gone = asyncio.ensure_future(reader.read(1))
        self.open += 1
        self.peak = max(self.peak, self.open)
        if self.open >= self.hold_until:
            self.enough.set()
        try:
            await _send(writer, STREAM_HEAD, _stream_chunk(model, {"role": "assistant"}))
            await self._hold(gone)
            for index in range(self.chunks):
                if await _hung_up(gone, self.interval if index else 0):
                    self.cut_short.append(time.monotonic())
                    return
                usage = {"prompt_tokens": 5, "completion_tokens": index + 1}
                await _send(writer, b"", _stream_chunk(model, {"content": f"t{index} "}, usage))
            await _send(writer, b"", _stream_chunk(model, {}, finish="stop"), "[DONE]")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            self.open -= 1
            gone.cancel()

    async def _hold(self, gone: asyncio.Future) -> None:
        if self.hold_until:
            enough = asyncio.ensure_future(self.enough.wait())
            await asyncio.wait(
                {gone, enough}, timeout=self.hold_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            enough.cancel()


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)


class EndlessLineProvider(LoopThreadServer):
    """An OpenAI-compatible provider whose answer never ends its line: `x` after `x`, 16 KiB a
    write, until the gateway hangs up, or until `most` bytes when it never does (then the line
    and the answer end).

    A chat stream begins with a chunk of text, then an event whose data is that line; an answer
    not streamed (any request without `"stream": true`, a GET too) is JSON whose message content
    is that line, or with `status` an error whose message is. `sent` counts the bytes of the
    line written; `cut_short` says the gateway hung up first.
    """

    def __init__(self, *, most: int, status: int = 200) -> None:
        self.most = most
        self.status = status
        self.sent = 0
        self.cut_short = False
        super().__init__()

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.base_url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        gone: asyncio.Future | None = None
        try:
            request = await _read_request(reader)
            # The gateway sends nothing after its request: EOF here is the gateway hanging up.
            gone = asyncio.ensure_future(reader.read(1))
            if request.get("stream") and self.status == 200:
                model = request.get("model", "")
                text = _stream_chunk(model, {"role": "assistant", "content": "Hello there"})
                await _send(writer, STREAM_HEAD, text)
                await self._endless_line(writer, gone, b"data: ", b"\n\n")
            else:
                writer.write(ANSWER_HEAD % (self.status, b"Endless"))
                opening, closing = ENDLESS_JSON[self.status == 200]
                await self._endless_line(writer, gone, opening, closing)
        except ConnectionError:
            self.cut_short = True
        finally:
            if gone is not None:
                gone.cancel()
            writer.close()

    async def _endless_line(
        self, writer: asyncio.StreamWriter, gone: asyncio.Future, opening: bytes, closing: bytes
    ) -> None:
        piece = b"x" * 16384
        writer.write(b"%x\r\n%s\r\n" % (len(opening), opening))
        while self.sent < self.most:
            if gone.done():
                self.cut_short = True
                return
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.sent += len(piece)
            await writer.drain()
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(closing), closing))
        await writer.drain()


ANSWER_HEAD = (
    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)
# What an answer not streamed holds around its endless line: an error's, a success's.
ENDLESS_JSON = {
    False: (b'{"error": {"type": "invalid_request_error", "message": "', b'"}}'),
    True: (
        b'{"id": "chatcmpl-endless", "object": "chat.completion", "created": 1700000000, '
        b'"model": "m", "choices": [{"index": 0, "finish_reason": "stop", '
        b'"message": {"role": "assistant", "content": "',
        b'"}}]}',
    ),
}


async def _read_request(reader: asyncio.StreamReader) -> dict[str, Any]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(await reader.readexactly(length) or b"{}")


async def _send(writer: asyncio.StreamWriter, head: bytes, *events: Any) -> None:
    """SSE events as chunks of a chunked body (after `head`, the status line and headers)."""
    chunks = [_sse(e) for e in events]
    writer.write(head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks))
    await writer.drain()


async def _hung_up(gone: asyncio.Future, wait: float) -> bool:
    """Whether the gateway has hung up, waiting up to `wait` seconds for it to."""
    if wait and not gone.done():
        await asyncio.wait({gone}, timeout=wait)
    return gone.done()


def _stream_chunk(
    model: str,
    delta: dict[str, Any],
    usage: dict[str, int] | None = None,
    finish: str | None = None,
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {"id": "chatcmpl-many", "object": "chat.completion.chunk", "created": 1_700_000_000}
    return {**chunk, "model": model, "choices": [choice], **({"usage": usage} if usage else {})}
