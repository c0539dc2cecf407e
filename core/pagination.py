"""Pagination of the management API's lists."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# PostgreSQL's OFFSET is a bigint: a larger one is taken as this, past every row.
MAX_OFFSET = 2**63 - 1


class LimitOffsetPages(LimitOffsetPagination):
    """DRF's `?limit=&offset=` pages; a larger `limit` than MAX_LIMIT gets MAX_LIMIT rows.

    A `limit` or `offset` that is not a whole number (or a `limit` of 0) is refused (400)
    rather than replaced by the default, so a client's mistake does not pass for the first page.
    """

    # One request must not make the server read and render a whole table.
    max_limit = 1000

    def get_limit(self, request: Request) -> int | None:
        limit = _whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        return self.default_limit if limit is None else limit

    def get_offset(self, request: Request) -> int:
        offset = _whole_number(request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET)
        return offset or 0

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        limit, offset = super().get_schema_operation_parameters(view)
        limit["description"] = f"Rows per page, 1 or more; more than {self.max_limit} gives "
        limit["description"] += f"{self.max_limit}."
        limit["schema"] = {"type": "integer", "minimum": 1}
        offset["description"] = "Rows to skip, 0 or more."
        offset["schema"] = {"type": "integer", "minimum": 0}
        return [limit, offset]


def _whole_number(request: Request, name: str, *, minimum: int, maximum: int) -> int | None:
    """The parameter `name` as a number from `minimum`, past `maximum` taken as `maximum`."""
    text = request.query_params.get(name)
    if text is None:
        return None
    digits = text.lstrip("0") or "0"
    if not (digits.isascii() and digits.isdecimal()):
        raise ValidationError({name: [f"Enter a whole number from {minimum}."]})
    # Twenty digits hold every bigint: a longer number is past any maximum, unread.
    number = min(int(digits), maximum) if len(digits) <= 20 else maximum
    if number < minimum:
        raise ValidationError({name: [f"Enter a whole number from {minimum}."]})
    return number
