"""Celery tasks of the portal: thin wrappers over its services, scheduled by beat."""

from __future__ import annotations

from celery import shared_task

from portal import services


@shared_task(name="portal.refresh_tokens_forget_expired")
def refresh_tokens_forget_expired() -> int:
    """Keep the refresh-token records bounded: one row per sign-in, until it expires."""
    return services.refresh_tokens_forget_expired()
