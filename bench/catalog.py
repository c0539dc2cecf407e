"""A fresh benchmark database and Redis: two published APIs (uncached and cached) and a token."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis


def reset_stores(database_url: str, redis_url: str) -> None:
    """Drop and recreate the benchmark database; empty the benchmark Redis database."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(redis_url).flushdb()


def prepare(*, database_url: str, redis_url: str, upstream: str) -> str:
    """Migrate, create the APIs `bench-miss` and `bench-hit` on `upstream`; an access token."""
    os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return _subscribed_token(upstream)


def _subscribed_token(upstream: str) -> str:
    from django.contrib.auth import get_user_model

    from apis.services import api_create, api_transition, plan_create, subscription_create
    from keys.services import application_create
    from keys.tokens import issue_access_token

    owner = get_user_model().objects.create(username="bench")
    application, _secret = application_create(owner=owner, name="bench")
    for slug, cache_ttl in (("bench-miss", 0), ("bench-hit", 300)):
        api = api_create(
            owner=None,
            slug=slug,
            name=slug,
            kind="rest",
            upstream_url=upstream,
            cache_ttl=cache_ttl,
        )
        plan = plan_create(api=api, name="unmetered", rate_limit="999999999/m")
        api_transition(api=api, to="published", actor=None)
        subscription_create(application=application, api=api, plan=plan)
    return issue_access_token(application=application).access_token
