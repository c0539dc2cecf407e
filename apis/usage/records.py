"""The usage event the gateway hands over: one finished call, one field per usage column.

This dataclass is the one list of what a call records. The gateway's accounting step reads
each measured field off the finished call, the Redis stream carries the fields as strings, and
the ingest stores them in `UsageEvent` columns of the same names, each bounded by its column:
a new column is a field here and a field on the model.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any, get_type_hints

# How a stream entry's string turns back into each type of field.
_PARSERS: dict[Any, Callable[[str], Any]] = {
    datetime: datetime.fromisoformat,
    int: int,
    int | None: lambda value: int(value) if value else None,
    Decimal: Decimal,
    str: str,
    bool: lambda value: value == "True",
}


# Who made the call and when, named by the accounting step. Every other field is measured on
# the finished call: its outcome's attribute of the same name, unless the field's metadata
# names another place on the call.
IDENTITY = frozenset({"at", "api_id", "application_id", "subscription_id", "event_id"})


@dataclass(frozen=True)
class UsageRecord:
    """One finished call, as the gateway saw it."""

    at: datetime
    api_id: int
    application_id: int
    subscription_id: int | None
    status: int
    latency_ms: int
    bytes_in: int = field(metadata={"on_call": "bytes_in"})
    bytes_out: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    channel: str = field(metadata={"on_call": "request.channel"})
    request_id: str = field(metadata={"on_call": "request.request_id"})
    model: str = field(default="", metadata={"on_call": "outcome.model_used"})
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = field(default=False, metadata={"on_call": "outcome.tokens_estimated"})
    # Answered from the AI answer cache: no provider was called.
    cached: bool = field(default=False, metadata={"on_call": "outcome.answer_cached"})
    # The gateway's own id of the event, whichever way it is stored: a copy that reaches the
    # database twice (the stream took it, but its reply was lost) is stored once.
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def measures_of(cls, call: object) -> dict[str, Any]:
        """The measured fields' values, read off a finished gateway call."""
        return {name: read(call) for name, read in _measure_readers()}

    def columns(self) -> dict[str, Any]:
        """The record as `UsageEvent` column values (the event id is stored as its source id)."""
        return {
            each.name: getattr(self, each.name) for each in fields(self) if each.name != "event_id"
        }

    def to_fields(self) -> dict[str, str]:
        """The record as flat strings, for a Redis stream entry."""
        values = ((each.name, getattr(self, each.name)) for each in fields(self))
        entry = {name: "" if value is None else str(value) for name, value in values}
        entry["at"] = self.at.isoformat()
        return entry

    @classmethod
    def from_fields(cls, entry: dict[str, str]) -> UsageRecord:
        """A record back from a Redis stream entry; fields an older entry lacks take defaults."""
        types = _field_types()
        return cls(**{name: _PARSERS[types[name]](entry[name]) for name in types if name in entry})


@cache
def _measure_readers() -> tuple[tuple[str, Callable[[object], Any]], ...]:
    """Each measured field and what reads it off a call: built once, not on every call."""
    return tuple(
        (each.name, attrgetter(each.metadata.get("on_call", f"outcome.{each.name}")))
        for each in fields(UsageRecord)
        if each.name not in IDENTITY
    )


@cache
def _field_types() -> dict[str, Any]:
    return get_type_hints(UsageRecord)
