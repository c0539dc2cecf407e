"""The embeddings surface, in OpenAI's format: `input` texts in, vectors out (floats or base64).

Embeddings are not a conversation, so they skip the chat core: each adapter that has them
writes its provider's embeddings call (`embeddings_build`) and reads its answer
(`embeddings_parse`).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from apis.ai.chat import Usage
from apis.ai.formats import invalid, json_object
from apis.ai.outgoing import Outgoing
from apis.ai.targets import Target

# OpenAI's own limits on one embeddings request.
MAX_INPUTS = 2048
MAX_DIMENSIONS = 65536
ENCODINGS = frozenset({"float", "base64"})


@dataclass(frozen=True)
class EmbeddingsRequest:
    """The texts to embed and how the client wants the vectors."""

    texts: list[str]
    model: str = ""
    dimensions: int | None = None
    encoding_format: str = "float"

    def build(self, target: Target, stream: bool) -> Outgoing:
        """The target's embeddings call."""
        return target.embedder.embeddings_build(
            base_url=target.provider.base_url,
            api_key=target.api_key(),
            model=target.model,
            texts=self.texts,
            dimensions=self.dimensions,
        )


def request(body: Any) -> EmbeddingsRequest:
    """The client's request, or 400 saying what is wrong with it."""
    body = json_object(body)
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise invalid("'input' must be a string or a non-empty list of strings.", "input")
    if len(texts) > MAX_INPUTS:
        raise invalid(f"'input' holds at most {MAX_INPUTS} texts.", "input")
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        not isinstance(dimensions, int) or not 0 < dimensions <= MAX_DIMENSIONS
    ):
        raise invalid(f"'dimensions' must be an integer from 1 to {MAX_DIMENSIONS}.", "dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    return EmbeddingsRequest(texts, str(body.get("model") or ""), dimensions, encoding)


def answer(
    request: EmbeddingsRequest, vectors: list[list[float]], usage: Usage, model: str
) -> dict[str, Any]:
    """OpenAI's embeddings list."""
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, request)}
        for index, vector in enumerate(vectors)
    ]
    counts = {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}
    return {"object": "list", "data": data, "model": model, "usage": counts}


def _encoded(vector: list[float], request: EmbeddingsRequest) -> list[float] | str:
    if request.encoding_format == "float":
        return vector
    # As OpenAI sends them: little-endian float32, base64-encoded.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
