"""Alerts at 80% and 100% of a budget or quota: one e-mail and one portal notice a month.

The gateway notices a threshold crossed when it settles a call (budgets, tokens), counts one
(the request quota) or refuses one (100%). A key in the shared cache, taken by the first
process that sees the crossing, makes the alert once per application, policy, API, threshold
and month; the database row (unique on the same) is the portal's notice and staff's record.
"""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, transaction

from apis.gateway.errors import SHARED_CACHE_ERRORS
from apis.usage.models import SpendAlert
from core import shared
from core.threads import in_database_thread
from keys.models import Application
from teams.models import Role, Team
from teams.selectors import member_emails

logger = logging.getLogger(__name__)

THRESHOLDS = (80, 100)
# Crossings this process has already passed on; forgotten when it grows past this.
SEEN_MAX = 10_000
_seen: set[str] = set()
# An alert that cannot be stored now is tried again at the next crossing.
STORE_ERRORS: tuple[type[Exception], ...] = (DatabaseError, *SHARED_CACHE_ERRORS)


async def check(
    *,
    application_id: int,
    api_id: int | None,
    policy: str,
    used: int,
    cap: int,
    what: str,
    month: str,
    ttl: int,
) -> None:
    """Raise the alerts for the thresholds of `cap` that `used` has reached this `month`."""
    if cap < 0:
        return
    for threshold in THRESHOLDS:
        if used * 100 < cap * threshold:
            return
        key = f"gw:{{app:{application_id}}}:alert:{policy}:{api_id or '-'}:{threshold}:{month}"
        if key in _seen:
            continue
        if len(_seen) >= SEEN_MAX:
            _seen.clear()
        _seen.add(key)
        try:
            if await shared.add(key, 1, ttl):
                detail = f"{threshold}% of {what} reached in {month}."
                await in_database_thread(
                    partial(
                        spend_alert_raise,
                        application_id=application_id,
                        api_id=api_id,
                        policy=policy,
                        threshold=threshold,
                        month=month,
                        detail=detail,
                    )
                )
        except STORE_ERRORS:
            _seen.discard(key)
            logger.warning("alert %s not raised: store down", key)


def spend_alert_raise(
    *, application_id: int, api_id: int | None, policy: str, threshold: int, month: str, detail: str
) -> SpendAlert | None:
    """Record the alert and e-mail the owners and admins of the application's team, unless it
    was raised already."""
    try:
        with transaction.atomic():
            alert = SpendAlert.objects.create(
                application_id=application_id,
                api_id=api_id,
                policy=policy,
                threshold=threshold,
                month=month,
                detail=detail[:300],
            )
    except IntegrityError:
        return None
    application = Application.objects.get(pk=application_id)
    recipients = member_emails(Team.objects.filter(pk=application.team_id), at_least=Role.ADMIN)
    if recipients:
        send_mail(
            f"Portcullis: {application.name} reached {threshold}% of its "
            f"{alert.get_policy_display().lower()}",
            f"{application.name}: {detail}\n\nSee the portal's usage page for where it stands.",
            settings.DEFAULT_FROM_EMAIL,
            recipients,
        )
    return alert
