"""The daily spend rollup: per API, application and the model or deployment that answered.

The usage rollup adds each batch of events to their days' rows in the transaction that marks
them rolled up, so an event is added once (or, after a crash, not at all and then once).
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from apis.usage.models import SpendRollup, UsageEvent

KEY = ("day", "api_id", "application_id", "model")


def spend_rollup_add(*, event_ids: list[int]) -> None:
    """Add the events' calls and spend to their days' spend rows, one per model."""
    groups = (
        UsageEvent.objects.filter(pk__in=event_ids)
        .annotate(day=TruncDate("at", tzinfo=UTC))
        .values(*KEY)
        .annotate(
            calls=Count("id"),
            spent=Sum("cost"),
            estimated_calls=Count("id", filter=Q(estimated=True)),
            estimated_spent=Coalesce(Sum("cost", filter=Q(estimated=True)), Value(Decimal(0))),
            cached_calls=Count("id", filter=Q(cached=True)),
        )
        .order_by()
    )
    for group in groups:
        key = {name: group.pop(name) for name in KEY}
        figures = spend_row_fields(group)
        added = {name: F(name) + value for name, value in figures.items()}
        # The rollup's lock makes this the only writer: no row appears between the two.
        if not SpendRollup.objects.filter(**key).update(**added):
            SpendRollup.objects.create(**key, **figures)


def spend_row_fields(row: dict) -> dict:
    """A grouped row's figures under the rollup's field names (an annotation may not take the
    name of the field it sums)."""
    row = dict(row)
    row["cost"], row["estimated_cost"] = row.pop("spent"), row.pop("estimated_spent")
    return row
