"""Pagination of the management API's lists."""

from rest_framework.pagination import LimitOffsetPagination


class LimitOffsetPages(LimitOffsetPagination):
    """DRF's `?limit=&offset=` pages; a larger `limit` than MAX_LIMIT gets MAX_LIMIT rows."""

    # One request must not make the server read and render a whole table.
    max_limit = 1000
