"""Writes of the keys app: applications and their secrets, token keys and their rotation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict
from keys import algorithms
from keys.conf import keys_settings
from keys.kek import seal
from keys.keyset import bump_version
from keys.models import Application, TokenKey
from keys.secrets import hash_secret, new_client_secret, secret_matches
from teams.models import Role, Team
from teams.selectors import team_checked


@transaction.atomic
def application_create(*, team: Team, name: str, actor: User | None) -> tuple[Application, str]:
    """A new application of `team` (its developers and up) and its secret in clear, which is
    never available again. `actor` None is the platform itself (commands), which any team lets in.

    A team holds at most MAX_APPLICATIONS_PER_OWNER: every application is a client that can
    take tokens, so their number is bounded like any other number a client chooses.
    """
    _check_role(team, actor, Role.DEVELOPER)
    secret = new_client_secret()
    application = Application(
        team=team, created_by=actor, name=name, secret_hash=hash_secret(secret)
    )
    application.full_clean(
        exclude=["secret_hash"], validate_unique=False, validate_constraints=False
    )
    try:
        with transaction.atomic():
            # The team's row is the lock: two creations at once cannot both pass the count.
            Team.objects.select_for_update().filter(pk=team.pk).first()
            _check_room_for_one_more(team)
            application.save()
    except IntegrityError as exc:
        raise Conflict(f"Team '{team.name}' already has an application named '{name}'.") from exc
    return application, secret


def _check_room_for_one_more(team: Team) -> None:
    limit = keys_settings.MAX_APPLICATIONS_PER_OWNER
    if Application.objects.filter(team=team).count() >= limit:
        raise Conflict(f"Team '{team.name}' has {limit} applications, the most one team may hold.")


@transaction.atomic
def application_rotate_secret(*, application: Application, actor: User | None = None) -> str:
    """Replace the secret (the team's admins and owners); the old one stops working at once."""
    _check_role(application.team, actor, Role.ADMIN)
    secret = new_client_secret()
    application.secret_hash = hash_secret(secret)
    application.secret_rotated_at = timezone.now()
    application.save(update_fields=["secret_hash", "secret_rotated_at"])
    return secret


@transaction.atomic
def application_delete(*, application: Application, actor: User | None = None) -> None:
    """Delete the application with its subscriptions (the team's developers and up); its tokens
    open nothing from then on."""
    _check_role(application.team, actor, Role.DEVELOPER)
    application.delete()


def _check_role(team: Team, actor: User | None, role: str) -> None:
    if actor is not None:
        team_checked(team, actor, at_least=role)


def application_authenticate(*, client_id: str, client_secret: str) -> Application | None:
    """The application these credentials prove, or None."""
    application = Application.objects.filter(client_id=client_id).first()
    if application is None:
        # Hash anyway so that an unknown client_id costs as much as a wrong secret.
        secret_matches(client_secret, hash_secret("pcs_unknown"))
        return None
    return application if secret_matches(client_secret, application.secret_hash) else None


@transaction.atomic
def token_key_create(*, use: str, alg: str) -> TokenKey:
    """A new active key; its private part is sealed under the KEK before it is stored."""
    key = algorithms.generate(alg)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "use": use, "alg": alg}
    private = json.dumps(key.as_dict(private=True)).encode()
    row = TokenKey(
        kid=kid,
        use=use,
        alg=alg,
        public_jwk=public,
        private_sealed=seal(private, purpose=f"token-key:{kid}"),
    )
    row.save()
    return row


def _configured_algs() -> dict[str, str]:
    return {
        TokenKey.Use.SIGNING: keys_settings.SIGNING_ALG,
        TokenKey.Use.ENCRYPTION: keys_settings.ENCRYPTION_ALG,
    }


def token_keys_ensure() -> None:
    """Create the active signing and encryption keys if there are none yet (first use)."""
    for use, alg in _configured_algs().items():
        if TokenKey.objects.filter(use=use, status=TokenKey.Status.ACTIVE).exists():
            continue
        try:
            # Two processes may race here; the one-active-key constraint lets one win.
            with transaction.atomic():
                token_key_create(use=use, alg=alg)
        except IntegrityError:
            continue
        bump_version()


def _verification_window() -> timedelta:
    """How long a retiring key keeps verifying: the longest token lifetime plus the leeway."""
    return timedelta(seconds=keys_settings.ACCESS_TOKEN_LIFETIME + keys_settings.LEEWAY)


@transaction.atomic
def token_keys_rotate(*, now: datetime | None = None) -> list[TokenKey]:
    """New active keys; the previous ones verify until their last token has expired."""
    now = now or timezone.now()
    token_keys_retire_expired(now=now)
    previous = TokenKey.objects.select_for_update().filter(status=TokenKey.Status.ACTIVE)
    previous.update(
        status=TokenKey.Status.RETIRING, retiring_at=now, retire_after=now + _verification_window()
    )
    created = [token_key_create(use=use, alg=alg) for use, alg in _configured_algs().items()]
    bump_version()
    return created


@transaction.atomic
def token_keys_retire_expired(*, now: datetime | None = None) -> int:
    """Mark retiring keys whose verification window has passed as retired."""
    now = now or timezone.now()
    expired = TokenKey.objects.select_for_update().filter(
        status=TokenKey.Status.RETIRING, retire_after__lte=now
    )
    count = expired.update(status=TokenKey.Status.RETIRED, retired_at=now)
    if count:
        bump_version()
    return count
