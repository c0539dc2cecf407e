"""Writes of the AI area: providers with their models, prompt endpoints with their history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from apis.ai.models import PromptEndpoint, PromptVersion, Provider, ProviderModel
from apis.models import Api

PROMPT_FIELDS = ("model", "system", "template", "variables", "output", "output_schema")


@transaction.atomic
def provider_save(
    *,
    provider: Provider | None = None,
    name: str,
    kind: str,
    base_url: str,
    api_key: str | None = None,
    models: list[dict[str, Any]] | None = None,
) -> Provider:
    """Create or update a provider; a given api_key replaces the stored one, None keeps it."""
    provider = provider or Provider()
    provider.name, provider.kind, provider.base_url = name, kind, base_url
    if api_key is not None:
        provider.set_api_key(api_key)
    provider.full_clean()
    provider.save()
    if models is not None:
        provider_models_replace(provider=provider, models=models)
    return provider


@transaction.atomic
def provider_models_replace(*, provider: Provider, models: list[dict[str, Any]]) -> None:
    """The provider's models become exactly these, with their prices."""
    provider.models.exclude(name__in=[m["name"] for m in models]).delete()
    for model in models:
        ProviderModel.objects.update_or_create(
            provider=provider,
            name=model["name"],
            defaults={
                "input_cost_per_mtok": _price(model.get("input_cost_per_mtok")),
                "output_cost_per_mtok": _price(model.get("output_cost_per_mtok")),
            },
        )


def _price(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@transaction.atomic
def prompt_save(*, api: Api, actor: User | None, **fields: Any) -> PromptEndpoint:
    """Create or change an API's prompt; every change that alters it is a new version."""
    prompt = PromptEndpoint.objects.select_for_update().filter(api=api).first()
    if prompt is None:
        prompt = PromptEndpoint(api=api, version=0)
    changed = prompt.version == 0 or any(getattr(prompt, k) != fields[k] for k in fields)
    for name, value in fields.items():
        setattr(prompt, name, value)
    if not changed:
        return prompt
    prompt.version += 1
    prompt.full_clean()
    prompt.save()
    prompt_version_record(prompt=prompt, actor=actor)
    return prompt


def prompt_version_record(*, prompt: PromptEndpoint, actor: User | None) -> PromptVersion:
    """The history row of the prompt's current state."""
    snapshot = {name: getattr(prompt, name) for name in PROMPT_FIELDS}
    return PromptVersion.objects.create(
        prompt=prompt, version=prompt.version, author=actor, **snapshot
    )
