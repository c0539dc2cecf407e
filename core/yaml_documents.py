"""YAML read as the JSON it stands for: safe tags only, no aliases, JSON's types and limits."""

from __future__ import annotations

import json
from typing import Any

import yaml

from core.parsers import document_problem


class YamlRefused(ValueError):
    """The text is not YAML this project reads; the message says why and where."""


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a few lines of them can expand to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise YamlRefused(f"YAML aliases are not accepted (line {mark.line + 1}).")
        return super().compose_node(parent, index)


def yaml_as_json(text: str) -> Any:
    """The document in `text`: keys such as `200:` become strings and dates text, and what
    JSON cannot hold (NaN, NUL characters, absurd depth) is refused."""
    try:
        document = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader
        converted = json.loads(json.dumps(document, allow_nan=False, default=str))
    except yaml.YAMLError as exc:
        raise YamlRefused(f"Not YAML: {_yaml_problem(exc)}") from exc
    except RecursionError as exc:
        raise YamlRefused("The document is nested too deeply.") from exc
    except ValueError as exc:
        raise YamlRefused(f"Not usable as JSON: {exc}") from exc
    if problem := document_problem(converted):
        raise YamlRefused(problem)
    return converted


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} (line {mark.line + 1})." if mark is not None else f"{problem}."
