"""The catalog as code: one YAML document of providers, APIs, plans and prompts.

`catalog_export()` writes what the database holds; `catalog_plan()` compares a document with
the database and returns the changes that would make them match, each applied through the
same services as admin and the REST API (lifecycle moves through the lifecycle service).
Secrets never appear in the document: it names environment variables (`${NAME}`) instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from jsonschema import Draft202012Validator

from apis import services
from apis.ai import services as ai_services
from apis.models import Api, Deployment, Plan, PromptEndpoint, Provider, Subscription
from apis.models.catalog import UPSTREAM_CREDENTIAL
from keys.kek import unseal
from lifecycle.errors import TransitionNotAllowed
from lifecycle.states import path_between

FORMAT = 1
API_FIELDS = (
    "name",
    "version",
    "description",
    "kind",
    "upstream_url",
    "model",
    "fallbacks",
    "routing",
    "cooldown",
    "cache_ttl",
    "public_cache",
    "timeout",
    "connect_timeout",
    "total_timeout",
    "upstream_header",
    "credential_per_application",
    "mcp_revision",
    "require_encrypted_token",
    "openapi",
    "balancing",
    "health_path",
    "failure_statuses",
    "circuit_failures",
    "circuit_window",
    "circuit_cool_down",
)
PLAN_FIELDS = (
    "rate_limit",
    "monthly_quota",
    "token_quota",
    "monthly_budget",
    "max_output_tokens",
    "requires_approval",
    "allowed_tools",
)
MODEL_FIELDS = ("input_cost_per_mtok", "output_cost_per_mtok")
DEPLOYMENT_FIELDS = ("name", "provider", "model", "weight", "rpm", "tpm")
REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
NOTE = "catalog apply"
# The moves that may carry a sunset (the transition service keeps it on the API).
SUNSET_STATES = ("deprecated", "retired")

_entry = {"type": "object"}
SCHEMA = {
    "type": "object",
    "required": ["version"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": FORMAT},
        "providers": {
            "type": "array",
            "items": {
                **_entry,
                "required": ["name", "kind", "base_url"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                    "base_url": {"type": "string"},
                    "api_key": {"type": "string", "pattern": REFERENCE.pattern},
                    "models": {"type": "array", "items": {**_entry, "required": ["name"]}},
                },
            },
        },
        "apis": {
            "type": "array",
            "items": {
                **_entry,
                "required": ["slug", "name"],
                "additionalProperties": False,
                "properties": {
                    **{name: {} for name in API_FIELDS},
                    "sunset": {"type": ["string", "null"]},
                    "slug": {"type": "string"},
                    "state": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "targets": {
                        "type": "array",
                        "items": {
                            **_entry,
                            "required": ["url"],
                            "additionalProperties": False,
                            "properties": {"url": {"type": "string"}, "weight": {}},
                        },
                    },
                    "plans": {
                        "type": "array",
                        "items": {
                            **_entry,
                            "required": ["name"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                **{name: {} for name in PLAN_FIELDS},
                            },
                        },
                    },
                    "deployments": {
                        "type": "array",
                        "items": {
                            **_entry,
                            "required": ["name", "provider", "model"],
                            "additionalProperties": False,
                            "properties": {
                                **{name: {} for name in DEPLOYMENT_FIELDS},
                                "api_key": {"type": "string", "pattern": REFERENCE.pattern},
                            },
                        },
                    },
                    "prompt": {"type": ["object", "null"]},
                    "upstream_credential": {"type": "string", "pattern": REFERENCE.pattern},
                },
            },
        },
    },
}


class CatalogError(Exception):
    """The document cannot be applied; the message names the entry and the reason."""


@dataclass
class Change:
    """One difference between the document and the database, and how to remove it."""

    sign: str  # + create, ~ update, > lifecycle move, - delete
    what: str
    detail: str = ""
    run: Callable[[], object] = field(default=lambda: None, repr=False)
    subscriptions: int = 0  # a deletion that ends this many subscriptions needs confirming

    def __str__(self) -> str:
        return f"{self.sign} {self.what}" + (f": {self.detail}" if self.detail else "")


# Export --------------------------------------------------------------------------------------


def catalog_export() -> dict[str, Any]:
    """The whole catalog as a plain document, in a stable order."""
    providers = Provider.objects.prefetch_related("models").order_by("name")
    apis = (
        Api.objects.prefetch_related("tags", "plans", "deployments__provider")
        .select_related("prompt")
        .order_by("slug")
    )
    return {
        "version": FORMAT,
        "providers": [provider_entry(provider) for provider in providers],
        "apis": [api_entry(api) for api in apis],
    }


def provider_entry(provider: Provider) -> dict[str, Any]:
    """A provider as the document holds it; its key as a reference to a variable."""
    entry: dict[str, Any] = {
        "name": provider.name,
        "kind": provider.kind,
        "base_url": provider.base_url,
    }
    if provider.has_api_key:
        entry["api_key"] = f"${{{secret_variable('provider', provider.name, 'api_key')}}}"
    entry["models"] = [
        {"name": model.name, **{name: _price(getattr(model, name)) for name in MODEL_FIELDS}}
        for model in sorted(provider.models.all(), key=lambda model: model.name)
    ]
    return entry


def api_entry(api: Api) -> dict[str, Any]:
    """An API with its plans and prompt, as the document holds it."""
    entry: dict[str, Any] = {"slug": api.slug, **{name: getattr(api, name) for name in API_FIELDS}}
    if api.upstream_secret:
        variable = secret_variable("api", api.slug, "upstream_credential")
        entry["upstream_credential"] = f"${{{variable}}}"
    entry["tags"] = sorted(tag.name for tag in api.tags.all())
    entry["targets"] = [{"url": t.url, "weight": t.weight} for t in api.targets.order_by("id")]
    entry["state"] = api.state
    entry["sunset"] = api.sunset.isoformat() if api.sunset else None
    entry["plans"] = [
        {
            "name": plan.name,
            **{name: _plan_field(name, getattr(plan, name)) for name in PLAN_FIELDS},
        }
        for plan in sorted(api.plans.all(), key=lambda plan: plan.name)
    ]
    if api.kind in (Api.Kind.AI, Api.Kind.PROMPT):
        entry["deployments"] = [
            _deployment_entry(api, d) for d in sorted(api.deployments.all(), key=lambda d: d.name)
        ]
    prompt = getattr(api, "prompt", None)
    if prompt is not None:
        entry["prompt"] = {name: getattr(prompt, name) for name in ai_services.PROMPT_FIELDS}
    return entry


def _deployment_entry(api: Api, deployment: Deployment) -> dict[str, Any]:
    """A deployment as the document holds it; its own key as a reference to a variable."""
    entry = _deployment({**vars(deployment), "provider": deployment.provider.name})
    if deployment.has_api_key:
        name = f"{api.slug}_{deployment.name}"
        entry["api_key"] = f"${{{secret_variable('deployment', name, 'api_key')}}}"
    return entry


def secret_variable(kind: str, name: str, secret: str) -> str:
    """The environment variable an exported document names for a secret."""
    return re.sub(r"[^A-Z0-9]+", "_", f"PORTCULLIS_{kind}_{name}_{secret}".upper())


def _price(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


# Plan ----------------------------------------------------------------------------------------


def _plan_field(name: str, value: Any) -> Any:
    """A plan's field as documents hold it: a budget as its decimal string (when it is one)."""
    if name != "monthly_budget" or value is None or isinstance(value, bool):
        return value
    try:
        return _price(Decimal(str(value)))
    except ArithmeticError:
        return value


def catalog_plan(document: Any, *, prune: bool = False) -> list[Change]:
    """The changes that make the database match `document`, in the order they must run."""
    error = next(iter(Draft202012Validator(SCHEMA).iter_errors(document)), None)
    if error is not None:
        raise CatalogError(f"{error.json_path}: {error.message[:300]}")
    changes: list[Change] = []
    wanted_providers = {entry["name"]: entry for entry in document.get("providers") or []}
    wanted_apis = {entry["slug"]: entry for entry in document.get("apis") or []}
    for entry in wanted_providers.values():
        changes += _provider_changes(entry)
    moves: list[Change] = []
    for entry in wanted_apis.values():
        api_changes, api_moves = _api_changes(entry, prune=prune)
        changes += api_changes
        moves += api_moves
    # Moves last: publishing needs the plans created above.
    changes += moves
    if prune:
        changes += _prunings(wanted_providers, wanted_apis)
    return changes


def _resolve(reference: str | None, what: str) -> str:
    """The secret a `${NAME}` reference stands for; absent means none."""
    if reference is None:
        return ""
    variable = REFERENCE.match(reference)[1]  # type: ignore[index]  # the schema checked it
    if variable not in os.environ:
        raise CatalogError(f"{what} refers to ${{{variable}}}, which is not set.")
    return os.environ[variable]


def _provider_changes(entry: dict[str, Any]) -> list[Change]:
    provider = Provider.objects.filter(name=entry["name"]).first()
    key = _resolve(entry.get("api_key"), f"provider {entry['name']}: api_key")
    models = entry.get("models") or []
    current = provider_entry(provider) if provider is not None else None
    wanted = {**entry, "models": [_model_entry(model) for model in models]}
    stored_key = provider.api_key() if provider is not None else ""
    differing = _differing(current, wanted, ("kind", "base_url", "models"))
    if stored_key != key:
        differing.append("api_key")
    if provider is not None and not differing:
        return []

    def run() -> Provider:
        return ai_services.provider_save(
            provider=Provider.objects.filter(name=entry["name"]).first(),
            name=entry["name"],
            kind=entry["kind"],
            base_url=entry["base_url"],
            api_key=key,
            models=wanted["models"],
        )

    sign = "+" if provider is None else "~"
    return [Change(sign, f"provider {entry['name']}", ", ".join(differing * (sign == "~")), run)]


def _model_entry(model: dict[str, Any]) -> dict[str, Any]:
    prices = {name: model.get(name) for name in MODEL_FIELDS}
    return {
        "name": model["name"],
        **{name: None if v is None else _price(Decimal(str(v))) for name, v in prices.items()},
    }


def _differing(current: dict | None, wanted: dict, names) -> list[str]:
    if current is None:
        return []
    return [name for name in names if name in wanted and current.get(name) != wanted[name]]


def _api_changes(entry: dict[str, Any], *, prune: bool) -> tuple[list[Change], list[Change]]:
    slug = entry["slug"]
    api = Api.objects.filter(slug=slug).prefetch_related("tags", "plans").first()
    current = api_entry(api) if api is not None else None
    fields = _fields_of(entry)
    credential = _resolve(entry.get("upstream_credential"), f"api {slug}: upstream_credential")
    changes: list[Change] = []
    if api is None or current is None:
        changes.append(Change("+", f"api {slug}", run=lambda: _api_create(entry, credential)))
    else:
        changes += _api_update(api, current, entry, fields, credential)
    changes += _plan_changes(slug, current, entry.get("plans") or [], prune=prune)
    changes += _deployment_changes(slug, current, entry)
    changes += _prompt_changes(slug, current, entry, prune=prune)
    return changes, _moves(slug, current["state"] if current else "design", entry)


def _fields_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The API's fields in the document, its targets included (each weight 1 unless named)."""
    fields = {name: entry[name] for name in API_FIELDS if name in entry}
    if "targets" in entry:
        fields["targets"] = [{"weight": 1, **target} for target in entry["targets"]]
    return fields


def _api_create(entry: dict[str, Any], credential: str) -> Api:
    fields = _fields_of(entry)
    return services.api_create(
        owner=None,
        slug=entry["slug"],
        tags=entry.get("tags") or [],
        upstream_credential=credential,
        **fields,
    )


def _api_update(
    api: Api, current: dict, entry: dict, fields: dict, credential: str
) -> list[Change]:
    changed = {name: value for name, value in fields.items() if current[name] != value}
    tags = sorted(entry["tags"]) if "tags" in entry else None
    stored = (
        unseal(api.upstream_secret, purpose=UPSTREAM_CREDENTIAL).decode()
        if (api.upstream_secret)
        else ""
    )
    names = [*changed, *(["tags"] if tags is not None and tags != current["tags"] else [])]
    if stored != credential:
        names.append("upstream_credential")
    if not names:
        return []

    def run() -> Api:
        return services.api_update(
            api=Api.objects.get(slug=api.slug),
            tags=tags,
            upstream_credential=credential if stored != credential else None,
            **changed,
        )

    return [Change("~", f"api {api.slug}", ", ".join(names), run)]


def _plan_changes(
    slug: str, current: dict | None, plans: list[dict], *, prune: bool
) -> list[Change]:
    existing = {plan["name"]: plan for plan in (current or {}).get("plans", [])}
    changes = []
    for plan in plans:
        fields = {name: _plan_field(name, plan[name]) for name in PLAN_FIELDS if name in plan}
        before = existing.get(plan["name"])
        if before is None:
            run = _plan_creator(slug, plan["name"], fields)
            changes.append(Change("+", f"plan {slug}/{plan['name']}", run=run))
        elif changed := {name: v for name, v in fields.items() if before[name] != v}:
            run = _plan_updater(slug, plan["name"], changed)
            changes.append(Change("~", f"plan {slug}/{plan['name']}", ", ".join(changed), run))
    if prune:
        wanted = {plan["name"] for plan in plans}
        for name in sorted(set(existing) - wanted):
            changes.append(_plan_deletion(Plan.objects.get(api__slug=slug, name=name)))
    return changes


def _plan_creator(slug: str, name: str, fields: dict) -> Callable[[], Plan]:
    return lambda: services.plan_create(api=Api.objects.get(slug=slug), name=name, **fields)


def _plan_updater(slug: str, name: str, fields: dict) -> Callable[[], Plan]:
    return lambda: services.plan_update(plan=Plan.objects.get(api__slug=slug, name=name), **fields)


def _deployment(fields: dict[str, Any]) -> dict[str, Any]:
    """A deployment as documents hold it (without its key), its weight and limits defaulted."""
    return {
        "name": fields["name"],
        "provider": fields["provider"],
        "model": fields["model"],
        "weight": fields.get("weight", 1),
        "rpm": fields.get("rpm"),
        "tpm": fields.get("tpm"),
    }


def _deployment_changes(slug: str, current: dict | None, entry: dict) -> list[Change]:
    """The API's deployments as the document lists them: replaced together when they differ."""
    if "deployments" not in entry:
        return []
    wanted = sorted((_deployment(d) for d in entry["deployments"]), key=lambda d: d["name"])
    keys = {
        d["name"]: _resolve(d.get("api_key"), f"api {slug}: deployment {d['name']}: api_key")
        for d in entry["deployments"]
    }
    before = [_deployment(d) for d in (current or {}).get("deployments", [])]
    stored = {d.name: d.own_api_key() for d in Deployment.objects.filter(api__slug=slug)}
    if wanted == before and keys == stored:
        return []

    def run() -> None:
        api = Api.objects.get(slug=slug)
        api.deployments.all().delete()
        for fields in wanted:
            provider = Provider.objects.filter(name=fields["provider"]).first()
            if provider is None:
                raise CatalogError(f"api {slug}: no provider named {fields['provider']!r}.")
            deployment = Deployment(api=api, **{**fields, "provider": provider})
            deployment.set_api_key(keys[fields["name"]])
            deployment.full_clean()
            deployment.save()

    names = ", ".join(d["name"] for d in wanted) or "none"
    return [Change("~", f"deployments {slug}", names, run)]


def _prompt_changes(slug: str, current: dict | None, entry: dict, *, prune: bool) -> list[Change]:
    if "prompt" not in entry:
        return []
    wanted, before = entry["prompt"], (current or {}).get("prompt")
    if wanted is None:
        if before is None or not prune:
            return []
        prompt = PromptEndpoint.objects.get(api__slug=slug)
        return [Change("-", f"prompt {slug}", run=prompt.delete)]
    fields = {name: wanted.get(name, _prompt_default(name)) for name in ai_services.PROMPT_FIELDS}
    if before == fields:
        return []

    def run() -> PromptEndpoint:
        return ai_services.prompt_save(api=Api.objects.get(slug=slug), actor=None, **fields)

    detail = "" if before is None else ", ".join(n for n in fields if before.get(n) != fields[n])
    return [Change("+" if before is None else "~", f"prompt {slug}", detail, run)]


def _prompt_default(name: str) -> Any:
    field = PromptEndpoint._meta.get_field(name)
    assert isinstance(field, models.Field)  # a column of the prompt, not a relation's far side
    return field.get_default()


def _moves(slug: str, current: str, entry: dict) -> list[Change]:
    """The lifecycle moves from `current` to the entry's state, each through the service."""
    wanted = entry.get("state", current)
    path = path_between(current, wanted)
    if path is None:
        raise CatalogError(f"api {slug}: {TransitionNotAllowed.between(current, wanted).detail}")
    sunset = _sunset(slug, entry.get("sunset"))
    changes, before = [], current
    for state in path:
        run = _mover(slug, state, sunset if state in SUNSET_STATES else None)
        changes.append(Change(">", f"api {slug}", f"{before} → {state}", run))
        before = state
    return changes


def _sunset(slug: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise CatalogError(f"api {slug}: sunset {value!r} is not an ISO 8601 date and time.")
    return parsed


def _mover(slug: str, to: str, sunset: datetime | None) -> Callable[[], object]:
    return lambda: services.api_transition(
        api=Api.objects.get(slug=slug), to=to, actor=None, note=NOTE, sunset=sunset
    )


def _prunings(providers: dict, apis: dict) -> list[Change]:
    changes = []
    for provider in Provider.objects.exclude(name__in=providers).order_by("name"):
        changes.append(Change("-", f"provider {provider.name}", run=provider.delete))
    for api in Api.objects.exclude(slug__in=apis).order_by("slug"):
        count = api.subscriptions.count()
        detail = f"{count} subscription(s) and its usage history" if count else ""
        run = _deleter(api, api.subscriptions.all())
        changes.append(Change("-", f"api {api.slug}", detail, run, subscriptions=count))
    return changes


def _plan_deletion(plan: Plan) -> Change:
    count = plan.subscriptions.count()
    detail = f"{count} subscription(s)" if count else ""
    run = _deleter(plan, plan.subscriptions.all())
    return Change("-", f"plan {plan.api.slug}/{plan.name}", detail, run, subscriptions=count)


def _deleter(item: Api | Plan, subscriptions: QuerySet[Subscription]) -> Callable[[], None]:
    def run() -> None:
        # Subscriptions hold their plan (PROTECT): they go first, as the confirmation said.
        subscriptions.delete()
        item.delete()

    return run


# Apply ---------------------------------------------------------------------------------------


@transaction.atomic
def catalog_apply(changes: list[Change]) -> int:
    """Run the changes in order, all or none; returns how many ran."""
    for change in changes:
        change.run()
    return len(changes)
