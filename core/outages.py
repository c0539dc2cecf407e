"""A dependency that does not answer is a temporary outage: 503 with Retry-After, never a 500.

The database going away (connection refused, reset, timed out) raises OperationalError or
InterfaceError wherever it is first touched; a Redis that does not answer raises redis'
ConnectionError or TimeoutError. Each becomes a 503 in the format of the surface: RFC 6749's
error object at the OAuth endpoints, problem+json on the other JSON surfaces, a plain page for
the portal. Nothing is kept about the outage: the next request tries again, so service
resumes by itself once the dependency is back.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from core import problems
from core.problems import problem_response, wants_problem_json

logger = logging.getLogger(__name__)

OUTAGES = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
RETRY_AFTER_SECONDS = 5
OAUTH_PREFIX = "/oauth/"


def is_outage(exception: BaseException | None) -> bool:
    """Whether the exception says a database or cache did not answer."""
    return isinstance(exception, OUTAGES)


def outage_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After, in the format of the surface the request came to."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}
    if request.path.startswith(OAUTH_PREFIX):
        # RFC 6749 §4.1.2.1 names this error; clients of the token endpoint parse this shape.
        body = {
            "error": "temporarily_unavailable",
            "error_description": "The authorization server cannot reach its database; retry.",
        }
        return JsonResponse(body, status=503, headers=headers)
    if wants_problem_json(request):
        detail = "A service this endpoint needs does not answer; retry shortly."
        return problem_response(503, detail, "Temporarily unavailable", headers=headers)
    # No request context: its processors would reach for the session, in the database.
    page = render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS})
    return HttpResponse(page, status=503, headers=headers)


class OutageMiddleware:
    """Views that fail because the database or cache does not answer answer 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_outage(exception):
            return None
        logger.warning("outage at %s: %s: %s", request.path, type(exception).__name__, exception)
        return outage_response(request)


def handler500(request: HttpRequest) -> HttpResponse:
    """The root URLconf's 500 handler: an outage met in a middleware (a session loaded or
    saved) arrives here rather than at OutageMiddleware, and is still a 503."""
    if is_outage(sys.exc_info()[1]):
        return outage_response(request)
    return problems.handler500(request)
