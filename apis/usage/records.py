"""The usage event the gateway hands over: one finished call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Decimal


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
    # The gateway's own id of the event, whichever way it is stored: a copy that reaches the
    # database twice (the stream took it, but its reply was lost) is stored once.
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

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
            event_id=fields.get("event_id", ""),
        )
