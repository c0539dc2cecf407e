"""OpenAPI documents from operators: read (JSON or YAML) within bounds, validated, summarised."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.utils.text import slugify
from jsonschema_path import SchemaPath
from openapi_spec_validator.shortcuts import get_validator_cls
from openapi_spec_validator.validation.exceptions import ValidatorDetectError
from referencing.exceptions import Unresolvable

from apis.conf import catalog_settings
from apis.errors import InvalidOpenApi
from core.parsers import strict_json
from core.yaml_documents import YamlRefused, yaml_as_json

SUPPORTED_VERSIONS = ("3.0", "3.1")
FETCH_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class ApiDescription:
    """What an OpenAPI document says about the API it describes."""

    name: str
    version: str
    description: str
    tags: list[str]
    upstream_url: str

    @property
    def slug(self) -> str:
        """The slug a new API gets: its name and version, e.g. `pet-store-1-0-2`."""
        return slugify(f"{self.name} {self.version}".replace(".", "-"))[:80].strip("-") or "api"


def openapi_read(raw: bytes) -> dict[str, Any]:
    """The document in `raw` (JSON, or YAML of which JSON is a subset), validated."""
    if len(raw) > catalog_settings.OPENAPI_MAX_BYTES:
        raise InvalidOpenApi(
            f"The document is {len(raw)} bytes; at most "
            f"{catalog_settings.OPENAPI_MAX_BYTES} are accepted.",
            location="$",
        )
    document = _parse(raw)
    openapi_validate(document)
    return document


def _parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidOpenApi("The document is not UTF-8 text.", location="$") from exc
    try:
        return strict_json(text) if text.lstrip().startswith("{") else yaml_as_json(text)
    except YamlRefused as exc:
        raise InvalidOpenApi(str(exc), location="$") from exc
    except ValueError as exc:
        raise InvalidOpenApi(f"Not usable as JSON: {exc}", location="$") from exc


def openapi_validate(document: Any) -> None:
    """Raise InvalidOpenApi naming the first problem of an OpenAPI 3.0 or 3.1 document.

    References are followed inside the document only: no handler may fetch a URL or read a
    file on the server's behalf.
    """
    if not isinstance(document, dict):
        raise InvalidOpenApi("An OpenAPI document is a JSON object (a YAML mapping).", location="$")
    version = str(document.get("openapi", ""))
    if not version.startswith(SUPPORTED_VERSIONS):
        raise InvalidOpenApi(
            f"'openapi' is {version or 'missing'}; OpenAPI 3.0 and 3.1 are accepted.",
            location="$.openapi",
        )
    try:
        validator = get_validator_cls(document)(SchemaPath.from_dict(document, handlers={}))
        error = next(iter(validator.iter_errors()), None)
    except ValidatorDetectError as exc:
        raise InvalidOpenApi("Unknown OpenAPI version.", location="$.openapi") from exc
    except Unresolvable as exc:
        raise InvalidOpenApi(
            f"Cannot resolve the reference {_reference(exc)}; only references inside the "
            "document are followed.",
            location="$",
        ) from exc
    except RecursionError as exc:
        raise InvalidOpenApi("The document is nested too deeply.", location="$") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        # The validator assumes the shape it is checking, e.g. that a path item is a mapping.
        raise InvalidOpenApi("The document's structure cannot be read.", location="$") from exc
    if error is not None:
        raise InvalidOpenApi(error.message[:500], location=error.json_path)


def _reference(exc: Unresolvable) -> str:
    ref = getattr(exc, "ref", None) or str(exc)
    return repr(str(ref)[:200])


def openapi_description(document: dict[str, Any]) -> ApiDescription:
    """Name, version, description, tags and upstream of a valid document."""
    info = document["info"]
    servers = document.get("servers") or [{}]
    upstream = str(servers[0].get("url", ""))
    tags = [slugify(tag["name"])[:50] for tag in document.get("tags") or [] if tag.get("name")]
    return ApiDescription(
        name=str(info["title"])[:120],
        version=str(info["version"])[:40],
        description=str(info.get("description") or info.get("summary") or ""),
        tags=[tag for tag in dict.fromkeys(tags) if tag][:20],
        upstream_url=upstream if upstream.startswith(FETCH_SCHEMES) else "",
    )


def openapi_fetch(url: str) -> bytes:
    """The document at `url`, fetched once, within the size limit and the timeout."""
    if not url.startswith(tuple(f"{scheme}://" for scheme in FETCH_SCHEMES)):
        raise InvalidOpenApi("Only http and https URLs are fetched.", location="url")
    limit, timeout = catalog_settings.OPENAPI_MAX_BYTES, catalog_settings.OPENAPI_FETCH_TIMEOUT
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as response:
            if response.status_code != 200:
                raise InvalidOpenApi(
                    f"{url} answered {response.status_code}, not 200.", location="url"
                )
            return _bounded_body(response, limit, deadline=time.monotonic() + timeout)
    except httpx.HTTPError as exc:
        raise InvalidOpenApi(
            f"Could not fetch {url}: {type(exc).__name__}.", location="url"
        ) from exc


def _bounded_body(response: httpx.Response, limit: int, *, deadline: float) -> bytes:
    """The body, refused once over `limit` bytes or past `deadline` (a server sending a byte
    at a time would otherwise reset httpx's per-read timeout forever)."""
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise InvalidOpenApi(f"The document is over {limit} bytes.", location="url")
        if time.monotonic() > deadline:
            raise InvalidOpenApi("The document took too long to arrive.", location="url")
    return bytes(body)
