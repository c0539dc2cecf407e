"""Handshake-era MCP sessions, kept in the shared cache so that any process serves any session."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from apis.mcp.conf import mcp_settings
from core import shared


@dataclass(frozen=True)
class Session:
    """What the initialize handshake settled, bound to the application that opened it."""

    id: str
    application_id: int
    protocol_version: str


def _key(session_id: str) -> str:
    return f"mcp:session:{session_id}"


async def session_start(*, application_id: int, protocol_version: str) -> Session:
    """A new session with an unguessable id (visible ASCII, as the transport requires)."""
    session = Session(secrets.token_urlsafe(24), application_id, protocol_version)
    await shared.set(_key(session.id), asdict(session), mcp_settings.SESSION_TTL)
    return session


async def session_for(session_id: str, *, application_id: int) -> Session | None:
    """The live session of that id opened by this application, its lifetime renewed; else None."""
    stored = await shared.get(_key(session_id)) if session_id else None
    if stored is None or stored["application_id"] != application_id:
        return None
    await shared.touch(_key(session_id), mcp_settings.SESSION_TTL)
    return Session(**stored)


async def session_end(session: Session) -> None:
    """End the session: later requests naming it answer 404."""
    await shared.delete(_key(session.id))
