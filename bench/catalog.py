"""A fresh benchmark database and Redis: the benchmark's published APIs and a token for them."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

PROVIDER = "bench-mock"


def reset_stores(database_url: str, redis_url: str) -> None:
    """Drop and recreate the benchmark database; empty the benchmark Redis database."""
    reset_database(database_url)
    redis.Redis.from_url(redis_url).flushdb()


def reset_database(database_url: str) -> None:
    """Drop and recreate the database at `database_url`."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def prepare(*, database_url: str, redis_url: str, origin: str, mock: str) -> str:
    """Migrate, publish the benchmark APIs on nginx (`origin`) and the loopback upstream
    (`mock`), subscribe one application to all of them; its access token."""
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return _subscribed_token(_apis(origin, mock))


def _apis(origin: str, mock: str) -> list[dict[str, Any]]:
    """The fields of each benchmark API: REST on nginx and on the slow upstream, and AI."""
    from apis.ai.services import provider_save
    from bench.upstream import IDLE_MODEL, MODEL

    provider = provider_save(
        name=PROVIDER,
        kind="openai_compatible",
        base_url=f"{mock}/v1",
        api_key="sk-bench-upstream",
        models=[
            {"name": MODEL, "input_cost_per_mtok": "1", "output_cost_per_mtok": "4"},
            {"name": IDLE_MODEL},
        ],
    )
    return [
        {"slug": "bench-miss", "kind": "rest", "upstream_url": origin},
        {"slug": "bench-hit", "kind": "rest", "upstream_url": origin, "cache_ttl": 300},
        {"slug": "bench-slow", "kind": "rest", "upstream_url": f"{mock}/slow"},
        {"slug": "bench-sse", "kind": "rest", "upstream_url": f"{mock}/sse"},
        {"slug": "bench-ai", "kind": "ai", "model": f"{provider.name}/{MODEL}"},
        # The same model under a budget no run reaches: each call reserves, then settles.
        {
            "slug": "bench-ai-budget",
            "kind": "ai",
            "model": f"{provider.name}/{MODEL}",
            "plan": {"monthly_budget": "1000000"},
        },
        {"slug": "bench-ai-idle", "kind": "ai", "model": f"{provider.name}/{IDLE_MODEL}"},
    ]


def _subscribed_token(apis: list[dict[str, Any]]) -> str:
    from django.contrib.auth import get_user_model

    from apis.services import api_create, api_transition, plan_create, subscription_create
    from keys.services import application_create
    from keys.tokens import issue_access_token
    from teams.services import personal_team_ensure

    owner = get_user_model().objects.create(username="bench")
    team = personal_team_ensure(owner)
    application, _secret = application_create(team=team, name="bench", actor=owner)
    for fields in apis:
        limits = fields.pop("plan", {})
        api = api_create(owner=None, name=fields["slug"], **fields)
        # Generous enough that no limit trips during a run.
        plan = plan_create(api=api, name="unmetered", rate_limit="1000000/m", **limits)
        api_transition(api=api, to="published", actor=None)
        subscription_create(application=application, api=api, plan=plan)
    return issue_access_token(application=application).access_token
