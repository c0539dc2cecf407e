"""Writes on applications: create, rotate the secret, authenticate a client."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict
from keys.models import Application
from keys.secrets import hash_secret, new_client_secret, secret_matches


@transaction.atomic
def application_create(*, owner: AbstractBaseUser, name: str) -> tuple[Application, str]:
    """A new application and its secret in clear, which is never available again."""
    secret = new_client_secret()
    application = Application(owner=owner, name=name, secret_hash=hash_secret(secret))
    application.full_clean(exclude=["secret_hash"], validate_unique=False)
    try:
        with transaction.atomic():
            application.save()
    except IntegrityError as exc:
        raise Conflict(f"You already have an application named '{name}'.") from exc
    return application, secret


@transaction.atomic
def application_rotate_secret(*, application: Application) -> str:
    """Replace the secret; the old one stops working at once."""
    secret = new_client_secret()
    application.secret_hash = hash_secret(secret)
    application.secret_rotated_at = timezone.now()
    application.save(update_fields=["secret_hash", "secret_rotated_at"])
    return secret


def application_authenticate(*, client_id: str, client_secret: str) -> Application | None:
    """The application these credentials prove, or None."""
    application = Application.objects.filter(client_id=client_id).first()
    if application is None:
        # Hash anyway so that an unknown client_id costs as much as a wrong secret.
        secret_matches(client_secret, hash_secret("pcs_unknown"))
        return None
    return application if secret_matches(client_secret, application.secret_hash) else None
