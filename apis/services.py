"""Writes on the catalog: APIs, their transitions, plans and subscriptions."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.mail import send_mail, send_mass_mail
from django.db import IntegrityError, transaction

from apis.catalog_cache import bump_catalog_version
from apis.errors import (
    AlreadySubscribed,
    InvalidOpenApi,
    NotSubscribable,
    PlanMismatch,
    PublishWithoutPlan,
    SubscriptionStateError,
)
from apis.models import Api, Plan, Subscription, Tag, UpstreamTarget
from apis.models.catalog import UPSTREAM_CREDENTIAL
from apis.openapi_documents import ApiDescription, openapi_description, openapi_validate
from apis.openapi_outline import operations
from apis.selectors import api_managed_by
from core.errors import Forbidden
from keys.kek import seal
from keys.models import Application
from lifecycle.models import LifecycleEvent
from lifecycle.services import record_change, transition
from lifecycle.states import State
from teams.models import Role, Team
from teams.selectors import member_emails, team_checked

logger = logging.getLogger(__name__)


@transaction.atomic
def api_create(
    *,
    owner: User | None,
    tags: list[str] | None = None,
    upstream_credential: str = "",
    targets: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Api:
    """A new API, in the design state; `upstream_credential` is sealed before it is stored.

    `targets` (`[{"url", "weight"}]`) balances a REST API's calls instead of one upstream_url.
    """
    api = Api(owner=owner, **fields)
    _seal_upstream_credential(api, upstream_credential)
    api.listed_targets = targets or []
    api.full_clean()
    api.save()
    api_set_tags(api=api, tags=tags or [])
    if targets:
        api_set_targets(api=api, targets=targets)
    return api


@transaction.atomic
def api_update(
    *,
    api: Api,
    tags: list[str] | None = None,
    upstream_credential: str | None = None,
    targets: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Api:
    """Change an API's description; its state moves only through api_transition().

    `upstream_credential` None keeps the stored one, "" removes it, anything else replaces it;
    `targets` None keeps them, a list replaces them.
    """
    for name, value in fields.items():
        setattr(api, name, value)
    if upstream_credential is not None:
        _seal_upstream_credential(api, upstream_credential)
    if targets is not None:
        api.listed_targets = targets
        api_set_targets(api=api, targets=targets)
    api.full_clean()
    api.save()
    if tags is not None:
        api_set_tags(api=api, tags=tags)
    return api


def api_set_targets(*, api: Api, targets: list[dict[str, Any]]) -> None:
    """Replace the API's upstream targets (`[{"url", "weight"}]`)."""
    api.targets.all().delete()
    rows = [UpstreamTarget(api=api, url=t["url"], weight=t.get("weight", 1)) for t in targets]
    for row in rows:
        row.full_clean(exclude=["api"])
    UpstreamTarget.objects.bulk_create(rows)


@transaction.atomic
def api_set_upstream_credential(*, api: Api, header: str, value: str) -> Api:
    """The header and secret the gateway sends upstream; the secret is kept sealed (keys.kek)."""
    api.upstream_header = header
    _seal_upstream_credential(api, value)
    api.full_clean()
    api.save(update_fields=["upstream_header", "upstream_secret", "updated_at"])
    return api


def _seal_upstream_credential(api: Api, value: str) -> None:
    api.upstream_secret = seal(value.encode(), purpose=UPSTREAM_CREDENTIAL) if value else ""


def api_set_tags(*, api: Api, tags: list[str]) -> None:
    """Replace the API's tags, creating unknown ones."""
    api.tags.set([Tag.objects.get_or_create(name=name.strip().lower())[0] for name in tags])


@transaction.atomic
def api_import(
    *, document: dict[str, Any], actor: User | None, api: Api | None = None
) -> tuple[Api, bool]:
    """Create or update an API from an OpenAPI 3.0/3.1 document; returns (api, created).

    Without `api`, the one of the document's name and version is updated, or a new one is
    created in design. An update keeps the API's state and writes what changed to its history.
    """
    openapi_validate(document)
    described = openapi_description(document)
    if api is None:
        api = Api.objects.filter(name=described.name, version=described.version).first()
    if api is None:
        return _api_create_from(described, document=document, actor=actor), True
    changes = _import_changes(api, described, document)
    fields: dict[str, Any] = {
        "name": described.name,
        "version": described.version,
        "description": described.description,
        "openapi": document,
    }
    if described.upstream_url and api.kind == Api.Kind.REST:
        fields["upstream_url"] = described.upstream_url
    api_update(api=api, tags=described.tags or None, **fields)
    if changes:
        record_change(api, actor=actor, note="OpenAPI import: " + "; ".join(changes) + ".")
    return api, False


def _api_create_from(described: ApiDescription, *, document: dict, actor) -> Api:
    if not described.upstream_url:
        raise InvalidOpenApi(
            "The document names no http(s) server; a new API needs one as its upstream.",
            location="$.servers",
        )
    slug = described.slug
    taken = set(Api.objects.filter(slug__startswith=slug).values_list("slug", flat=True))
    suffix = 2
    while slug in taken:
        slug, suffix = f"{described.slug[:76]}-{suffix}", suffix + 1
    return api_create(
        owner=actor,
        slug=slug,
        name=described.name,
        version=described.version,
        description=described.description,
        kind=Api.Kind.REST,
        upstream_url=described.upstream_url,
        tags=described.tags,
        openapi=document,
    )


def _import_changes(api: Api, described: ApiDescription, document: dict) -> list[str]:
    """What an import changes, in words, for the history."""
    changes = [
        f"{name} {getattr(api, name)!r} → {getattr(described, name)!r}"
        for name in ("name", "version", "upstream_url")
        if getattr(described, name)
        and getattr(api, name) != getattr(described, name)
        and (name != "upstream_url" or api.kind == Api.Kind.REST)
    ]
    if api.description != described.description:
        changes.append("description changed")
    tags = sorted(tag.name for tag in api.tags.all())
    if described.tags and tags != sorted(described.tags):
        changes.append(f"tags {', '.join(tags) or 'none'} → {', '.join(sorted(described.tags))}")
    if api.openapi != document:
        changes.append(_operations_change(api.openapi, document))
    return changes


def _operations_change(before: Any, after: dict) -> str:
    old, new = len(operations(before)), len(operations(after))
    return f"document replaced ({old} → {new} operations)"


@transaction.atomic
def api_set_openapi(*, api: Api, document: dict[str, Any], actor: User | None) -> Api:
    """Replace the API's OpenAPI document (validated first), noting it in the history."""
    openapi_validate(document)
    if api.openapi == document:
        return api
    note = f"OpenAPI {_operations_change(api.openapi, document)}."
    api_update(api=api, openapi=document)
    record_change(api, actor=actor, note=note)
    return api


def api_transition(
    *,
    api: Api,
    to: str,
    actor: User | None,
    note: str = "",
    sunset: datetime | None = None,
) -> LifecycleEvent:
    """Move an API through its lifecycle (see lifecycle.states.TRANSITIONS)."""
    return transition(
        api,
        to=to,
        actor=actor,
        note=note,
        sunset=sunset,
        guard=_transition_guard,
        effects=_transition_effects,
    )


def _transition_guard(api: Api, to: str) -> None:
    """The catalog's own guards on top of the transition table."""
    if to == State.PUBLISHED and not api.plans.exists():
        raise PublishWithoutPlan(f"Add at least one plan to '{api.slug}' before publishing it.")


def _transition_effects(api: Api, event: LifecycleEvent) -> None:
    """Effects of a transition: notify subscribers of a deprecation, end subscriptions on retire."""
    if event.to_state == State.DEPRECATED:
        transaction.on_commit(lambda: notify_deprecation(api_id=api.pk))
    elif event.to_state == State.RETIRED:
        api.subscriptions.filter(status__in=Subscription.LIVE).update(
            status=Subscription.Status.ENDED
        )


def notify_deprecation(*, api_id: int) -> int:
    """E-mail every developer with a live subscription; returns how many were written to."""
    api = Api.objects.get(pk=api_id)
    subscribers = Team.objects.filter(
        applications__subscriptions__api=api,
        applications__subscriptions__status__in=Subscription.LIVE,
    )
    owners = member_emails(subscribers)
    sunset = api.sunset.strftime("%Y-%m-%d %H:%M UTC") if api.sunset else "not yet set"
    subject = f"{api.name} {api.version} is deprecated"
    body = (
        f"The API '{api.name}' ({api.slug}) that your application subscribes to is deprecated.\n"
        f"Sunset date: {sunset}.\n"
        "It keeps serving until then; plan your move to a newer version.\n"
    )
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [email]) for email in owners]
    return send_mass_mail(messages, fail_silently=False) if messages else 0


@transaction.atomic
def plan_create(*, api: Api, **fields: Any) -> Plan:
    """A new plan for an API."""
    plan = Plan(api=api, **fields)
    plan.full_clean()
    plan.save()
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, **fields: Any) -> Plan:
    """Change a plan's limits; its subscriptions keep it."""
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.full_clean()
    plan.save()
    return plan


@transaction.atomic
def subscription_create(
    *, application: Application, api: Api, plan: Plan, actor: User | None = None
) -> Subscription:
    """Subscribe (the application team's developers and up): active at once, or pending when the
    plan requires approval, which is asked of the API's team. `actor` None: the platform itself.
    """
    if actor is not None:
        team_checked(application.team, actor, at_least=Role.DEVELOPER)
    if plan.api_id != api.pk:
        raise PlanMismatch(f"Plan {plan.pk} belongs to another API, not '{api.slug}'.")
    if not api.accepts_subscriptions:
        raise NotSubscribable(
            f"'{api.slug}' is {api.state}; only published APIs take new subscriptions."
        )
    status = Subscription.Status.PENDING if plan.requires_approval else Subscription.Status.ACTIVE
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(
                application=application, api=api, plan=plan, status=status
            )
    except IntegrityError as exc:
        raise AlreadySubscribed(
            f"Application '{application.name}' already has a live subscription to '{api.slug}'."
        ) from exc
    if status == Subscription.Status.PENDING:
        transaction.on_commit(lambda: notify_approval_request(subscription_id=subscription.pk))
    return subscription


def approvers_of(api: Api) -> list[str]:
    """Who decides on subscriptions to `api`: its team's owners and admins, else the staff."""
    if api.team_id is not None:
        return member_emails(Team.objects.filter(pk=api.team_id), at_least=Role.ADMIN)
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    return sorted(set(staff.values_list("email", flat=True)))


def notify_approval_request(*, subscription_id: int) -> int:
    """E-mail the approvers of a pending subscription; returns how many were written to."""
    subscription = Subscription.objects.select_related("application__team", "api", "plan").get(
        pk=subscription_id
    )
    api, application = subscription.api, subscription.application
    recipients = approvers_of(api)
    if not recipients:
        return 0
    body = (
        f"Application '{application.name}' of team '{application.team.name}' asks to use "
        f"'{api.name}' ({api.slug}) under the plan '{subscription.plan.name}'.\n"
        "Approve or reject it in the admin (Subscriptions) or with "
        f"POST /api/v1/subscriptions/{subscription.pk}/approve/ or .../reject/.\n"
    )
    subject = f"Approval requested: {application.name} → {api.slug}"
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def _check_manages(subscription: Subscription, actor) -> None:
    if actor is not None and not api_managed_by(subscription.api, actor):
        raise Forbidden(f"Only staff and the team of '{subscription.api.slug}' decide on this.")


def _check_may_revoke(subscription: Subscription, actor) -> None:
    if actor is None or api_managed_by(subscription.api, actor):
        return
    team_checked(subscription.application.team, actor, at_least=Role.DEVELOPER)


def _decide(
    subscription: Subscription, *, allowed_from: tuple[str, ...], to: str, actor
) -> Subscription:
    locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if locked.status not in allowed_from:
        raise SubscriptionStateError(
            f"Subscription {locked.pk} is {locked.status}; it cannot become {to}."
        )
    locked.status = to
    locked.decided_by = actor if actor is not None and actor.is_authenticated else None
    locked.save(update_fields=["status", "decided_by", "updated_at"])
    return locked


@transaction.atomic
def subscription_approve(*, subscription: Subscription, actor=None) -> Subscription:
    """Staff or the API's team let a pending subscription through."""
    _check_manages(subscription, actor)
    return _decide(
        subscription, allowed_from=(Subscription.Status.PENDING,), to="active", actor=actor
    )


@transaction.atomic
def subscription_reject(*, subscription: Subscription, actor=None) -> Subscription:
    """Staff or the API's team turn a pending subscription down."""
    _check_manages(subscription, actor)
    return _decide(
        subscription, allowed_from=(Subscription.Status.PENDING,), to="rejected", actor=actor
    )


@transaction.atomic
def subscription_revoke(*, subscription: Subscription, actor=None) -> Subscription:
    """End a live subscription (its team's developers and up, the API's team or staff)."""
    _check_may_revoke(subscription, actor)
    return _decide(subscription, allowed_from=Subscription.LIVE, to="revoked", actor=actor)


def catalog_changed(**signal_kwargs: Any) -> None:
    """Receiver of saves and deletes of the catalog, AI providers and prompts: drop lookups."""
    # Now, so this transaction's own later reads see the change; again after commit, because
    # another process may re-cache the old row between the first bump and the commit.
    bump_catalog_version()
    transaction.on_commit(bump_catalog_version)
