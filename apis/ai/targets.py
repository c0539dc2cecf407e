"""Which provider and model a call goes to: the API's model, then its fallbacks in order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from apis.ai.adapters import CHAT, EMBEDDINGS, ChatAdapter, EmbeddingsAdapter
from apis.catalog_cache import cached_lookup
from apis.gateway.errors import GatewayError
from apis.models import Deployment, PromptEndpoint, Provider, ProviderModel
from apis.models.ai import deployment_key


@dataclass(frozen=True)
class Target:
    """One provider and model to try; `ref` is how clients and usage name it."""

    provider: Provider
    model: str
    prices: ProviderModel | None
    # When one of the API's deployments: its name, weight, declared requests and tokens per
    # minute, and its own API key (sealed; empty: the provider's).
    deployment: str = ""
    weight: int = 1
    rpm: int = 0
    tpm: int = 0
    sealed_key: str = ""
    # The API it serves and how long it is left alone after failing (seconds).
    api_id: int = 0
    cooldown: int = 0

    @property
    def ref(self) -> str:
        return f"{self.provider.name}/{self.model}"

    @property
    def label(self) -> str:
        """How X-Model and usage name what answered: the deployment, else provider/model."""
        return self.deployment or self.ref

    @property
    def adapter(self) -> ChatAdapter:
        """The adapter of the provider's kind for chat."""
        return CHAT[self.provider.kind]

    @property
    def embeds(self) -> bool:
        """Whether the provider's kind has embeddings."""
        return self.provider.kind in EMBEDDINGS

    @property
    def embedder(self) -> EmbeddingsAdapter:
        """The adapter of the provider's kind for embeddings (for a target that `embeds`)."""
        return EMBEDDINGS[self.provider.kind]

    def api_key(self) -> str:
        """The plain key this call carries: the deployment's own, else the provider's."""
        return deployment_key(self.sealed_key) or self.provider.api_key()


def split_ref(ref: str) -> tuple[str, str]:
    """('provider', 'model') of '<provider>/<model>'; the model part may hold slashes."""
    provider, _, model = ref.strip().partition("/")
    return provider, model


async def targets_for(refs: list[str], *, preferred: str = "") -> list[Target]:
    """The targets of the refs that name a known provider, the client's choice first.

    Cached like the rest of the catalog until a provider, model or API is saved; only a cold
    lookup leaves the event loop, for the ORM.
    """
    ordered = sorted(refs, key=lambda ref: not _matches(ref, preferred)) if preferred else refs
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()
    targets = await cached_lookup(f"ai:targets:{digest}", lambda: _load_targets(ordered))
    if not targets:
        raise GatewayError(503, "No model available", "None of this API's models is configured.")
    return targets


async def deployments_of(api_id: int) -> list[Target]:
    """The API's deployments that may be called (weight above zero), cached like targets."""
    return await cached_lookup(f"ai:deployments:{api_id}", lambda: _load_deployments(api_id))


async def prompt_of(api_id: int) -> PromptEndpoint | None:
    """The prompt endpoint of a prompt API, cached until a prompt is saved."""
    return await cached_lookup(
        f"ai:prompt:{api_id}", lambda: PromptEndpoint.objects.filter(api_id=api_id).first()
    )


def _load_targets(ordered: list[str]) -> list[Target]:
    providers = Provider.objects.in_bulk([split_ref(r)[0] for r in ordered], field_name="name")
    prices = {
        (m.provider.name, m.name): m
        for m in ProviderModel.objects.filter(provider__in=providers.values()).select_related(
            "provider"
        )
    }
    return [
        Target(providers[name], model, prices.get((name, model)))
        for name, model in map(split_ref, ordered)
        if name in providers and model
    ]


def _load_deployments(api_id: int) -> list[Target]:
    deployments = list(
        Deployment.objects.filter(api_id=api_id, weight__gt=0).select_related("provider", "api")
    )
    prices = {
        (m.provider_id, m.name): m
        for m in ProviderModel.objects.filter(
            provider__in={d.provider_id for d in deployments}
        ).select_related("provider")
    }
    return [
        Target(
            d.provider,
            d.model,
            prices.get((d.provider_id, d.model)),
            deployment=d.name,
            weight=d.weight,
            rpm=d.rpm or 0,
            tpm=d.tpm or 0,
            sealed_key=d.sealed_api_key,
            api_id=api_id,
            cooldown=d.api.cooldown,
        )
        for d in deployments
    ]


def _matches(ref: str, wanted: str) -> bool:
    return wanted in (ref, split_ref(ref)[1])
