"""The daily spend rollup: per API, application and the model or deployment that answered.

Recomputed from a day's events of one API and application whenever the usage rollup folds
events of that day, so running it twice gives the same rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce

from apis.models import SpendRollup, UsageEvent


def spend_rollup_recompute(*, day: datetime, api_id: int, application_id: int) -> None:
    """The day's spend rows of the API and application, one per model, from their events."""
    events = UsageEvent.objects.filter(
        api_id=api_id, application_id=application_id, at__gte=day, at__lt=day + timedelta(days=1)
    )
    rows = events.values("model").annotate(
        calls=Count("id"),
        spent=Sum("cost"),
        estimated_calls=Count("id", filter=Q(estimated=True)),
        estimated_spent=Coalesce(Sum("cost", filter=Q(estimated=True)), Value(Decimal(0))),
        cached_calls=Count("id", filter=Q(cached=True)),
    )
    SpendRollup.objects.filter(
        day=day.date(), api_id=api_id, application_id=application_id
    ).delete()
    SpendRollup.objects.bulk_create(
        SpendRollup(
            day=day.date(), api_id=api_id, application_id=application_id, **spend_row_fields(row)
        )
        for row in rows
    )


def spend_row_fields(row: dict) -> dict:
    """A grouped row's figures under the rollup's field names (an annotation may not take the
    name of the field it sums)."""
    row = dict(row)
    row["cost"], row["estimated_cost"] = row.pop("spent"), row.pop("estimated_spent")
    return row
