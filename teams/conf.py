"""Settings of the teams app: `PORTCULLIS["TEAMS"]`, with their defaults."""

from __future__ import annotations

from core.conf import AppSettings

DEFAULTS = {
    "INVITATION_DAYS": 7,
    "MAX_TEAMS_PER_USER": 20,
    "MAX_MEMBERS_PER_TEAM": 200,
}

teams_settings = AppSettings("TEAMS", DEFAULTS)
