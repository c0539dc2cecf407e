"""Every JSON error as application/problem+json (RFC 9457), from one DRF exception handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from core.errors import PortcullisError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, detail: str = "", title: str = "", **extra: Any) -> dict[str, Any]:
    """An RFC 9457 body with the standard phrase of `status` as the default title."""
    body = {"type": "about:blank", "title": title or _phrase(status), "status": status}
    body["detail"] = detail or body["title"]
    body.update(extra)
    return body


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    status: int, detail: str = "", title: str = "", headers: dict[str, str] | None = None, **extra
) -> JsonResponse:
    """A plain Django problem+json response, for views outside DRF."""
    response = JsonResponse(
        problem_body(status, detail, title, **extra), status=status, content_type=PROBLEM_JSON
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into {"field.sub": ["message", ...]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_field_errors(value, name))
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(_field_errors(value, f"{prefix}[{index}]" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(message) for message in messages]}


def _validation_problem(exc: exceptions.ValidationError) -> dict[str, Any]:
    errors = _field_errors(exc.detail)
    named = ", ".join(f"{field}: {msgs[0]}" for field, msgs in errors.items())
    return problem_body(400, f"Invalid input. {named}", "Invalid input", errors=errors)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error, ours or DRF's, as problem+json."""
    headers: dict[str, str] = {}
    if isinstance(exc, PortcullisError):
        body, headers = exc.problem(), exc.headers
    elif isinstance(exc, DjangoValidationError):
        body = _validation_problem(exceptions.ValidationError(_django_messages(exc)))
    elif isinstance(exc, exceptions.ValidationError):
        body = _validation_problem(exc)
    elif isinstance(exc, exceptions.APIException):
        body = problem_body(exc.status_code, _text(exc.detail))
        headers = _api_exception_headers(exc)
    elif isinstance(exc, Http404):
        body = problem_body(404, "Not found.")
    elif isinstance(exc, PermissionDenied):
        body = problem_body(403, "You do not have permission to perform this action.")
    else:
        return None
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_JSON
    return response


def _django_messages(exc: DjangoValidationError) -> Any:
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


def _text(detail: Any) -> str:
    if isinstance(detail, dict | list):
        return "; ".join(f"{k}: {v}" for k, v in _field_errors(detail).items())
    return str(detail)


def _api_exception_headers(exc: exceptions.APIException) -> dict[str, str]:
    headers = {}
    # DRF sets `auth_header` on a refusal its authenticators can answer, `wait` on a throttle.
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(int(wait))
    return headers


# Machine-facing surfaces: their clients parse JSON, never an HTML error page.
JSON_PREFIXES = ("/api/", "/gw/", "/oauth/", "/mcp", "/.well-known/", "/healthz", "/readyz")


def wants_problem_json(request: HttpRequest) -> bool:
    """Whether an error at this request should be problem+json rather than an HTML page."""
    return request.path.startswith(JSON_PREFIXES) or "json" in request.headers.get("Accept", "")


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refused before any view ran, as problem+json on the JSON surfaces."""
    if wants_problem_json(request):
        return problem_response(400, "The request is malformed.")
    return defaults.bad_request(request, exception)


class UnstorableInputMiddleware:
    """Input the database cannot hold or compare is the client's mistake: 400, never a 500.

    PostgreSQL refuses a NUL character anywhere in text, so `?q=%00` on a search would fail
    deep in a query; the same goes for numbers out of a column's range.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DataError):
            return None
        logger.info("refused input the database cannot hold at %s: %s", request.path, exception)
        if wants_problem_json(request):
            return problem_response(400, "The request holds a value that cannot be stored.")
        return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A refusal outside DRF (for example a failed CSRF check), as problem+json on JSON surfaces."""
    if wants_problem_json(request):
        return problem_response(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Unknown URLs under the JSON surfaces answer problem+json; portal pages stay HTML."""
    if wants_problem_json(request):
        return problem_response(404, f"No resource at {request.path}.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """The last resort: a problem+json without internals on the JSON surfaces."""
    if wants_problem_json(request):
        return problem_response(500, "The server could not complete the request.")
    return defaults.server_error(request)
