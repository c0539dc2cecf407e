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


def path_between(current: str, to: str) -> list[str] | None:
    """The states to pass through, in order, to reach `to` from `current` by allowed moves
    (the shortest way; [] when already there), or None when `to` cannot be reached."""
    paths: dict[str, list[str]] = {current: []}
    frontier = [current]
    while frontier:
        state = frontier.pop(0)
        if state == to:
            return paths[state]
        for following in allowed_from(state):
            if following not in paths:
                paths[following] = [*paths[state], following]
                frontier.append(following)
    return None
