"""The lifecycle states and the one table of allowed transitions."""

from django.db import models


class State(models.TextChoices):
    DESIGN = "design", "Design"
    PUBLISHED = "published", "Published"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


TRANSITIONS: dict[str, frozenset[str]] = {
    State.DESIGN: frozenset({State.PUBLISHED, State.RETIRED}),
    State.PUBLISHED: frozenset({State.DEPRECATED}),
    State.DEPRECATED: frozenset({State.PUBLISHED, State.RETIRED}),
    State.RETIRED: frozenset(),
}

INITIAL = State.DESIGN


def allowed_from(state: str) -> list[str]:
    """The states reachable from `state`, sorted for stable messages."""
    return sorted(TRANSITIONS.get(state, frozenset()))
