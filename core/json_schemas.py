"""JSON Schemas written by staff, used safely: nothing retrieved, patterns matched in linear time.

jsonschema on its own retrieves any remote `$ref` with urllib (no timeout) on every validation,
and matches `pattern` with Python's backtracking `re`, where `^(a+)+$` takes exponential time.
Here references resolve only inside the schema (and to the JSON Schema meta-schemas), and every
pattern runs on RE2, whose matching time is linear in the input.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema_specifications import REGISTRY as META_SCHEMAS
from referencing import Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    # The stubs' name for the classes `validators.extend` makes: Validator plus `descend`.
    from jsonschema.validators import _Validator

REFERENCE_KEYWORDS = ("$ref", "$dynamicRef")
# Memory RE2 may use for one compiled pattern; a bigger pattern is refused, not run.
PATTERN_MAX_MEMORY = 1 << 20


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> Any:
    """The pattern compiled for RE2; SchemaError when RE2 cannot run it (backreferences,
    lookaround: exactly what cannot be matched in linear time)."""
    options = re2.Options()
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise SchemaError(f"The pattern {pattern!r} cannot be used: {_text(exc)}.") from exc


def _text(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _pattern(validator: _Validator, pattern: str, instance: Any, schema: Any) -> Iterator:
    if validator.is_type(instance, "string") and not compiled(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: _Validator, patterns: dict, instance: Any, schema: Any):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if compiled(pattern).search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: _Validator, additional: Any, instance: Any, schema: Any):
    if not validator.is_type(instance, "object"):
        return
    extras = [key for key in instance if not _declared(key, schema)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        listed = ", ".join(repr(extra) for extra in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


def _declared(key: str, schema: dict) -> bool:
    if key in schema.get("properties", {}):
        return True
    return any(compiled(pattern).search(key) for pattern in schema.get("patternProperties", {}))


SafeValidator = validators.extend(
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
)


def schema_validator(schema: dict[str, Any]) -> Validator:
    """A validator for `schema` that never retrieves a reference and matches patterns on RE2.

    A reference that does not resolve inside the schema fails the validation with
    referencing's Unresolvable; a schema `schema_problem` refuses raises SchemaError.
    """
    problem = _unsafe_combination(schema)
    if problem:
        raise SchemaError(problem)
    return SafeValidator(schema, registry=META_SCHEMAS)


def schema_problem(schema: Any) -> str:
    """Why a schema may not be saved (invalid, a remote or dangling reference, a pattern RE2
    cannot run), or ""."""
    if not isinstance(schema, dict):
        return "A JSON Schema is a JSON object."
    try:
        SafeValidator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return _unsafe_combination(schema) or _reference_problem(schema) or _pattern_problem(schema)


def _unsafe_combination(schema: dict[str, Any]) -> str:
    # jsonschema's unevaluatedProperties matches patternProperties with Python's re itself.
    keywords = {keyword for keyword, _ in _walk(schema)}
    if {"unevaluatedProperties", "patternProperties"} <= keywords:
        return "unevaluatedProperties cannot be combined with patternProperties here."
    return ""


def _reference_problem(schema: dict[str, Any]) -> str:
    if any(keyword == "$id" for keyword, _ in _walk(list(schema.values()))):
        return "Embedded resources ($id below the top level) are not supported."
    resolver = _local_resolver(schema)
    for keyword, value in _walk(schema):
        if keyword not in REFERENCE_KEYWORDS:
            continue
        if not isinstance(value, str) or not value.startswith("#"):
            return f"{keyword} {value!r}: only references inside the schema (#...) are allowed."
        try:
            resolver.lookup(value)
        except Unresolvable:
            return f"{keyword} {value!r} does not resolve inside the schema."
    return ""


def _local_resolver(schema: dict[str, Any]) -> Any:
    resource: Resource = DRAFT202012.create_resource(schema)
    base = resource.id() or ""
    return META_SCHEMAS.with_resource(uri=base, resource=resource).resolver(base_uri=base)


def _pattern_problem(schema: dict[str, Any]) -> str:
    patterns = []
    for keyword, value in _walk(schema):
        if keyword == "pattern" and isinstance(value, str):
            patterns.append(value)
        elif keyword == "patternProperties" and isinstance(value, dict):
            patterns.extend(value)
    for pattern in patterns:
        try:
            compiled(pattern)
        except SchemaError as exc:
            return exc.message
    return ""


def _walk(document: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of every object in the document, without recursion."""
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                yield key, value
                pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
