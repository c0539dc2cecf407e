"""The usage event the gateway hands over: one finished call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Decimal

INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1
COST_MAX = Decimal("99999999.999999")  # max_digits=14, decimal_places=6


def _clamp(value: int, ceiling: int) -> int:
    return min(max(int(value), 0), ceiling)


@dataclass(frozen=True)
class UsageRecord:
    """One finished call, as the gateway saw it."""

    at: datetime
    api_id: int
    application_id: int
    subscription_id: int | None
    status: int
    latency_ms: int
    bytes_in: int
    bytes_out: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    channel: str
    request_id: str
    model: str = ""
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    # Answered from the AI answer cache: no provider was called.
    cached: bool = False
    # The gateway's own id of the event, whichever way it is stored: a copy that reaches the
    # database twice (the stream took it, but its reply was lost) is stored once.
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def bounded(self) -> UsageRecord:
        """The record with every number clamped to what its column holds.

        Counts come from clients (a declared length) and providers (token counts): a number
        out of range must not turn a whole batch of events away.
        """
        return replace(
            self,
            status=_clamp(self.status, 999),
            latency_ms=_clamp(self.latency_ms, INT_MAX),
            bytes_in=_clamp(self.bytes_in, BIGINT_MAX),
            bytes_out=_clamp(self.bytes_out, BIGINT_MAX),
            prompt_tokens=_clamp(self.prompt_tokens, INT_MAX),
            completion_tokens=_clamp(self.completion_tokens, INT_MAX),
            cache_read_tokens=_clamp(self.cache_read_tokens, INT_MAX),
            cache_write_tokens=_clamp(self.cache_write_tokens, INT_MAX),
            reasoning_tokens=_clamp(self.reasoning_tokens, INT_MAX),
            cost=min(max(self.cost, Decimal(0)), COST_MAX),
        )

    def to_fields(self) -> dict[str, str]:
        """The record as flat strings, for a Redis stream entry."""
        values = ((field.name, getattr(self, field.name)) for field in dataclass_fields(self))
        fields = {name: "" if value is None else str(value) for name, value in values}
        fields["at"] = self.at.isoformat()
        return fields

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> UsageRecord:
        """A record back from a Redis stream entry."""
        return cls(
            at=datetime.fromisoformat(fields["at"]),
            api_id=int(fields["api_id"]),
            application_id=int(fields["application_id"]),
            subscription_id=int(fields["subscription_id"]) if fields["subscription_id"] else None,
            status=int(fields["status"]),
            latency_ms=int(fields["latency_ms"]),
            bytes_in=int(fields["bytes_in"]),
            bytes_out=int(fields["bytes_out"]),
            prompt_tokens=int(fields["prompt_tokens"]),
            completion_tokens=int(fields["completion_tokens"]),
            cost=Decimal(fields["cost"]),
            channel=fields["channel"],
            request_id=fields["request_id"],
            model=fields.get("model", ""),
            cache_read_tokens=int(fields.get("cache_read_tokens") or 0),
            cache_write_tokens=int(fields.get("cache_write_tokens") or 0),
            reasoning_tokens=int(fields.get("reasoning_tokens") or 0),
            estimated=fields.get("estimated") == "True",
            cached=fields.get("cached") == "True",
            event_id=fields.get("event_id", ""),
        )
