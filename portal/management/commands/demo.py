"""`manage.py demo`: idempotent demo data, one function per area (users, catalog, ...)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from apis.ai.demo_provider import MODEL
from apis.ai.services import prompt_save, provider_save
from apis.models import Api, Provider, Subscription
from apis.services import api_create, api_transition, plan_create, subscription_create
from keys.models import Application
from keys.services import application_create
from lifecycle.states import State
from teams.services import personal_team_ensure

SITE = "http://127.0.0.1:8000"
DEMO_UPSTREAM = f"{SITE}/demo-upstream"
ADMIN, DEVELOPER, DEMO_APP = "admin", "developer", "demo-app"

Say = Callable[[str], None]
JSON_CONTENT = {"application/json": {"schema": {"type": "object"}}}

# The transitions that bring a new API from design to each state, as an admin would.
PATH_TO: dict[str, list[str]] = {
    State.DESIGN: [],
    State.PUBLISHED: [State.PUBLISHED],
    State.DEPRECATED: [State.PUBLISHED, State.DEPRECATED],
    State.RETIRED: [State.PUBLISHED, State.DEPRECATED, State.RETIRED],
}

FREE = {"name": "free", "rate_limit": "60/m", "monthly_quota": 10_000}
PARTNER = {"name": "partner", "rate_limit": "600/m", "monthly_quota": 1_000_000}
PARTNER_APPROVED = {**PARTNER, "requires_approval": True}


def _openapi(slug: str, title: str, paths: dict[str, str]) -> dict[str, Any]:
    """A small OpenAPI 3.1 document: one GET operation per path, answering JSON."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0"},
        "servers": [{"url": f"{SITE}/gw/{slug}"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": {
            route: {
                "get": {
                    "summary": summary,
                    "responses": {"200": {"description": "OK", "content": JSON_CONTENT}},
                }
            }
            for route, summary in paths.items()
        },
    }


@dataclass(frozen=True)
class DemoApi:
    """One API of the demo catalog and the state it is brought to."""

    slug: str
    name: str
    version: str
    state: str
    upstream: str
    description: str
    tags: list[str]
    plans: list[dict[str, Any]] = field(default_factory=list)
    cache_ttl: int = 0
    openapi: dict[str, Any] | None = None
    subscribe: str = ""  # the plan the demo application takes while the API is published


CATALOG = [
    DemoApi(
        slug="echo",
        name="Echo",
        version="v1",
        state=State.PUBLISHED,
        upstream=f"{DEMO_UPSTREAM}/echo",
        description="Answers with the request it received: method, path, query, headers, body.",
        tags=["demo", "echo"],
        plans=[FREE, PARTNER],
        subscribe="free",
        openapi=_openapi("echo", "Echo", {"/{anything}": "Echo the request back"}),
    ),
    DemoApi(
        slug="items",
        name="Items",
        version="v1",
        state=State.PUBLISHED,
        upstream=f"{DEMO_UPSTREAM}/items",
        description="A tiny read-only inventory; answers are cached for 30 seconds.",
        tags=["demo", "inventory"],
        plans=[FREE, PARTNER_APPROVED],
        cache_ttl=30,
        subscribe="partner",
        openapi=_openapi("items", "Items", {"/": "List the items", "/{id}": "One item"}),
    ),
    DemoApi(
        slug="clock-v1",
        name="Clock",
        version="v1",
        state=State.DEPRECATED,
        upstream=f"{DEMO_UPSTREAM}/time",
        description="The current time (?tz=Europe/Paris). Deprecated: move to Clock v2.",
        tags=["demo", "time"],
        plans=[FREE],
        subscribe="free",
        openapi=_openapi("clock-v1", "Clock", {"/": "The current time"}),
    ),
    DemoApi(
        slug="clock-v2",
        name="Clock",
        version="v2",
        state=State.DESIGN,
        upstream=f"{DEMO_UPSTREAM}/time",
        description="The next version of the clock, still in design.",
        tags=["demo", "time"],
        plans=[FREE],
    ),
    DemoApi(
        slug="legacy-echo",
        name="Legacy Echo",
        version="v0",
        state=State.RETIRED,
        upstream=f"{DEMO_UPSTREAM}/echo",
        description="The first echo, retired: calls answer 410 Gone.",
        tags=["demo", "echo"],
        plans=[FREE],
        subscribe="free",
    ),
]


def demo_users(say: Say) -> None:
    """The admin, the developer and the developer's application."""
    _ensure_user(ADMIN, staff=True, from_env="DEMO_ADMIN_PASSWORD", say=say)
    developer = _ensure_user(DEVELOPER, staff=False, from_env="DEMO_DEVELOPER_PASSWORD", say=say)
    _ensure_application(owner=developer, name=DEMO_APP, say=say)


def _ensure_user(username: str, *, staff: bool, from_env: str, say: Say) -> User:
    """The user `username`, created with a password from the environment or a generated one."""
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        say(
            f"User '{username}' exists; password unchanged "
            f"(reset it with: .venv/bin/python manage.py changepassword {username})."
        )
        return user
    password = os.environ.get(from_env) or secrets.token_urlsafe(12)
    user = get_user_model().objects.create_user(
        username,
        email=f"{username}@example.com",
        password=password,
        is_staff=staff,
        is_superuser=staff,
    )
    shown = f"from {from_env}" if os.environ.get(from_env) else password
    say(f"Created user '{username}', password: {shown}")
    return user


def _ensure_application(*, owner: User, name: str, say: Say) -> None:
    """The developer's application; its secret can be shown only the moment it is made."""
    team = personal_team_ensure(owner)
    existing = Application.objects.filter(team=team, name=name).first()
    if existing is not None:
        say(
            f"Application '{name}' exists (client_id {existing.client_id}); its secret was "
            f"shown once at creation: rotate it at {SITE}/apps/ or "
            f"POST /api/v1/apps/{existing.pk}/rotate-secret/."
        )
        return
    application, secret = application_create(team=team, name=name, actor=owner)
    say(
        f"Created application '{name}' of {owner.get_username()}: "
        f"client_id {application.client_id}, client_secret {secret} (shown only now)\n"
        f"  token: curl -u '{application.client_id}:{secret}' "
        f"-d grant_type=client_credentials {SITE}/oauth/token"
    )


def demo_catalog(say: Say) -> None:
    """APIs in every lifecycle state, with plans, tags, OpenAPI documents and subscriptions."""
    admin = get_user_model().objects.filter(username=ADMIN).first()
    for spec in CATALOG:
        api = Api.objects.filter(slug=spec.slug).first()
        if api is None:
            api = _create_api(spec, admin=admin)
            verb = "Created"
        else:
            verb = "Exists:"
        sunset = f", sunset {api.sunset:%Y-%m-%d}" if api.sunset else ""
        say(f"{verb} API '{api.slug}' ({api.state}{sunset}) -> {SITE}/gw/{api.slug}/")
    _report_subscriptions(say)


def _create_api(spec: DemoApi, *, admin: User | None) -> Api:
    """Create the API and its plans, then walk it through the lifecycle to its demo state."""
    api = api_create(
        owner=admin,
        tags=spec.tags,
        slug=spec.slug,
        name=spec.name,
        version=spec.version,
        description=spec.description,
        kind=Api.Kind.REST,
        upstream_url=spec.upstream,
        cache_ttl=spec.cache_ttl,
        openapi=spec.openapi,
    )
    for plan in spec.plans:
        plan_create(api=api, **plan)
    for to in PATH_TO[spec.state]:
        api_transition(api=api, to=to, actor=admin, note="Demo data.", sunset=_sunset_for(to))
        if to == State.PUBLISHED and spec.subscribe:
            _subscribe_demo_application(api, plan_name=spec.subscribe)
    return api


def _subscribe_demo_application(api: Api, *, plan_name: str) -> None:
    """Subscribe while the API is published, so later transitions show their effects on it."""
    application = Application.objects.filter(created_by__username=DEVELOPER, name=DEMO_APP).first()
    if application is not None:
        subscription_create(application=application, api=api, plan=api.plans.get(name=plan_name))


def _sunset_for(to: str) -> datetime | None:
    """A deprecation in the demo announces a sunset 90 days out, at midnight UTC."""
    if to != State.DEPRECATED:
        return None
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=90)


def _report_subscriptions(say: Say) -> None:
    """The demo application's subscriptions and where each stands."""
    subscriptions = Subscription.objects.filter(
        application__created_by__username=DEVELOPER, application__name=DEMO_APP
    ).select_related("api", "plan")
    for subscription in subscriptions.order_by("api__slug"):
        say(
            f"Subscription of '{DEMO_APP}' to '{subscription.api.slug}' "
            f"(plan {subscription.plan.name}): {subscription.status}"
        )


def _post_openapi(slug: str, title: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.1 document with one POST operation taking a JSON body of this schema."""
    document = _openapi(slug, title, {})
    content = {"application/json": {"schema": body}}
    operation = {
        "summary": title,
        "requestBody": {"required": True, "content": content},
        "responses": {"200": {"description": "OK", "content": JSON_CONTENT}},
    }
    return {**document, "paths": {route: {"post": operation}}}


DEMO_PROVIDER = "demo"
AI_PLAN: dict[str, Any] = {
    "name": "free",
    "rate_limit": "60/m",
    "monthly_quota": 10_000,
    "token_quota": 100_000,
}
TEXT_VARIABLES: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 2000}},
    "required": ["text"],
}
DEMO_PROMPTS: dict[str, dict[str, Any]] = {
    "sentiment": {
        "name": "Sentiment",
        "system": "Classify the sentiment of the text as positive, negative or neutral.",
        "template": "Text: {{text}}",
        "variables": TEXT_VARIABLES,
        "output": "json",
    },
    "translate": {
        "name": "Translate",
        "system": "Translate the text into the requested language.",
        "template": "Translate into {{language}}: {{text}}",
        "variables": {
            **TEXT_VARIABLES,
            "properties": {
                **TEXT_VARIABLES["properties"],
                "language": {"enum": ["English", "French", "German", "Spanish"]},
            },
            "required": ["text", "language"],
        },
        "output": "text",
    },
}


def demo_ai(say: Say) -> None:
    """The echo AI provider served under /demo-upstream/v1/, an `ai` API and two prompt APIs."""
    if not Provider.objects.filter(name=DEMO_PROVIDER).exists():
        provider_save(
            name=DEMO_PROVIDER,
            kind=Provider.Kind.OPENAI_COMPATIBLE,
            base_url=f"{DEMO_UPSTREAM}/v1",
            models=[{"name": MODEL, "input_cost_per_mtok": "0.5", "output_cost_per_mtok": "1.5"}],
        )
    model = f"{DEMO_PROVIDER}/{MODEL}"
    chat = {
        "type": "object",
        "required": ["messages"],
        "properties": {"messages": {"type": "array"}},
    }
    _ensure_ai_api("echo-ai", "Echo AI", Api.Kind.AI, model=model, body=chat, say=say)
    for slug, spec in DEMO_PROMPTS.items():
        body = spec["variables"]
        api = _ensure_ai_api(slug, spec["name"], Api.Kind.PROMPT, model="", body=body, say=say)
        if not hasattr(api, "prompt"):
            fields = {k: v for k, v in spec.items() if k != "name"}
            prompt_save(api=api, actor=None, model=model, output_schema=None, **fields)


def _ensure_ai_api(
    slug: str, name: str, kind: str, *, model: str, body: dict[str, Any], say: Say
) -> Api:
    """A published AI or prompt API with a token quota and its OpenAPI document."""
    api = Api.objects.filter(slug=slug).first()
    if api is not None:
        say(f"Exists: API '{slug}' ({api.kind}) -> {SITE}/gw/{slug}/")
        return api
    what = (
        "an OpenAI-compatible chat model" if kind == Api.Kind.AI else "a prompt published as REST"
    )
    admin = get_user_model().objects.filter(username=ADMIN).first()
    api = api_create(
        owner=admin,
        tags=["demo", "ai"],
        slug=slug,
        name=name,
        version="v1",
        kind=kind,
        model=model,
        description=f"{name}: {what}, answered by the demo echo model.",
        openapi=_post_openapi(
            slug, name, "/chat/completions" if kind == Api.Kind.AI else "/", body
        ),
    )
    plan_create(api=api, **AI_PLAN)
    api_transition(api=api, to=State.PUBLISHED, actor=admin, note="Demo data.")
    _subscribe_demo_application(api, plan_name=AI_PLAN["name"])
    say(f"Created API '{slug}' ({kind}) -> {SITE}/gw/{slug}/, '{DEMO_APP}' subscribed")
    return api


# One entry per area; an area is a function that makes its demo data if it is missing.
AREAS: list[Callable[[Say], None]] = [demo_users, demo_catalog, demo_ai]


class Command(BaseCommand):
    help = "Load the demo data (idempotent): users, APIs in every lifecycle state, subscriptions."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            for area in AREAS:
                area(self.stdout.write)
        self.stdout.write(
            "\nPortcullis demo is ready:\n"
            f"  portal   {SITE}/           (log in as '{DEVELOPER}')\n"
            f"  admin    {SITE}/admin/     (log in as '{ADMIN}')\n"
            f"  API docs {SITE}/api/v1/docs/\n"
            "  Passwords are printed above when a user is created; "
            "DEMO_ADMIN_PASSWORD / DEMO_DEVELOPER_PASSWORD choose them."
        )
