"""What a call cost: the model's own prices when set, else the genai-prices table."""

from __future__ import annotations

import logging
from decimal import Decimal

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from apis.ai.chat import Usage
from apis.ai.models import Provider, ProviderModel

logger = logging.getLogger(__name__)

MILLION = Decimal(1_000_000)
# genai-prices names providers after their companies; the other kinds are matched by base URL.
PRICE_PROVIDERS: dict[str, str] = {
    Provider.Kind.OPENAI: "openai",
    Provider.Kind.ANTHROPIC: "anthropic",
    Provider.Kind.GEMINI: "google",
    Provider.Kind.MISTRAL: "mistral",
}


def call_cost(
    *, provider: Provider, model: str, prices: ProviderModel | None, usage: Usage
) -> Decimal:
    """USD cost of one call; zero when nobody knows the model's price."""
    own = _own_prices(prices)
    if own is not None:
        input_price, output_price = own
        return (
            usage.prompt_tokens * input_price + usage.completion_tokens * output_price
        ) / MILLION
    return table_cost(provider=provider, model=model, usage=usage)


def table_cost(*, provider: Provider, model: str, usage: Usage) -> Decimal:
    """The cost from the bundled genai-prices table, or zero for a model it does not list."""
    # genai-prices counts cache reads and writes inside the input, as Usage does.
    tokens = PriceUsage(
        input_tokens=usage.prompt_tokens,
        cache_read_tokens=usage.cache_read_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
        output_tokens=usage.completion_tokens,
    )
    provider_id = PRICE_PROVIDERS.get(provider.kind)
    try:
        if provider_id is not None:
            price = calc_price(tokens, model, provider_id=provider_id)
        else:
            price = calc_price(tokens, model, provider_api_url=provider.base_url)
        return Decimal(price.total_price)
    except (LookupError, ValueError):
        logger.info("no price known for %s/%s", provider.name, model)
        return Decimal(0)


def _own_prices(prices: ProviderModel | None) -> tuple[Decimal, Decimal] | None:
    if prices is None or prices.input_cost_per_mtok is None or prices.output_cost_per_mtok is None:
        return None
    return prices.input_cost_per_mtok, prices.output_cost_per_mtok
