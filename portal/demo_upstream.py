"""The demo upstream under /demo-upstream/: a small JSON service the demo APIs forward to."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from core.problems import problem_response

# Headers that carry the caller's credentials never travel back, even in an echo.
HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

ITEMS: dict[int, dict[str, Any]] = {
    1: {"id": 1, "name": "Portcullis", "kind": "gate", "price": "120.00"},
    2: {"id": 2, "name": "Drawbridge", "kind": "bridge", "price": "450.00"},
    3: {"id": 3, "name": "Moat", "kind": "water", "price": "80.00"},
}


@csrf_exempt
def index(request: HttpRequest) -> JsonResponse:
    """What the demo upstream offers."""
    return JsonResponse(
        {
            "service": "Portcullis demo upstream",
            "endpoints": [
                "/demo-upstream/echo/<any path>",
                "/demo-upstream/time?tz=<IANA zone>",
                "/demo-upstream/items",
                "/demo-upstream/items/<id>",
            ],
        }
    )


@csrf_exempt
def echo(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any method: the request as received (method, path, query, headers, body) as JSON."""
    body, problem = _body_of(request)
    if problem is not None:
        return problem
    return JsonResponse(
        {
            "method": request.method,
            "path": request.path,
            "query": {key: request.GET.getlist(key) for key in request.GET},
            "headers": {
                name: value
                for name, value in request.headers.items()
                if name.lower() not in HIDDEN_HEADERS
            },
            "body": body,
        }
    )


def _body_of(request: HttpRequest) -> tuple[Any, HttpResponse | None]:
    """The body as JSON when declared so, else as text; a problem for undecodable input."""
    raw = request.body
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, problem_response(400, "The request body is not UTF-8 text.")
    if request.content_type != "application/json" or not raw:
        return text, None
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, problem_response(
            400, f"The body is not valid JSON: {exc.msg} at line {exc.lineno}."
        )


@csrf_exempt
def time(request: HttpRequest) -> HttpResponse:
    """The current time, in UTC or in the IANA time zone given as ?tz=."""
    name = request.GET.get("tz", "UTC")
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return problem_response(
            400, f"Unknown time zone {name!r}; use an IANA name like Europe/Paris."
        )
    now = datetime.now(UTC).astimezone(zone)
    return JsonResponse({"time": now.isoformat(), "tz": name, "unix": int(now.timestamp())})


@csrf_exempt
def items(request: HttpRequest) -> JsonResponse:
    """The demo items."""
    return JsonResponse({"items": list(ITEMS.values())})


@csrf_exempt
def item(request: HttpRequest, item_id: str) -> JsonResponse:
    """One demo item by its numeric id."""
    if not item_id.isdigit():
        return problem_response(400, f"Item ids are whole numbers, not {item_id!r}.")
    found = ITEMS.get(int(item_id))
    if found is None:
        return problem_response(404, f"No item {int(item_id)}; the ids are {sorted(ITEMS)}.")
    return JsonResponse(found)


urlpatterns = [
    path("", index, name="demo-upstream"),
    path("echo", echo, name="demo-upstream-echo"),
    path("echo/<path:rest>", echo),
    path("time", time, name="demo-upstream-time"),
    path("items", items, name="demo-upstream-items"),
    path("items/<str:item_id>", item, name="demo-upstream-item"),
]
