"""Access-token figures: tokens issued per second, verification cold and warm, refusal cost.

`python -m bench.tokens` prints a table. Runs on DATABASE_URL when set (keys and one
application are created there), else on an in-memory SQLite database.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

ROUNDS = int(os.environ.get("BENCH_TOKEN_ROUNDS", "300"))


@dataclass(frozen=True)
class Row:
    """One measured figure."""

    name: str
    median_us: float
    per_second: float


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _timed(action: Callable[[], object], rounds: int, before: Callable[[], None] | None = None):
    samples = []
    for _ in range(rounds):
        if before:
            before()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    return median * 1e6, 1 / median


def _row(name: str, figures: tuple[float, float]) -> Row:
    return Row(name, round(figures[0], 1), round(figures[1]))


def _application():
    from django.contrib.auth import get_user_model

    from keys.models import Application
    from keys.services import application_create
    from teams.services import personal_team_ensure

    owner, _ = get_user_model().objects.get_or_create(username="bench-tokens")
    team = personal_team_ensure(owner)
    existing = Application.objects.filter(team=team, name="bench").first()
    return existing or application_create(team=team, name="bench", actor=owner)[0]


def _with_kid(token: str, kid: str) -> str:
    head, rest = token.split(".", 1)
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    header["kid"] = kid
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{encoded}.{rest}"


def _hostile(token: str) -> dict[str, str]:
    tag_flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    return {
        "refused: over 8 KB": "A" * 9000,
        "refused: bad segment count": token + ".AAAA",
        "refused: unknown kid": _with_kid(token, "attacker-key"),
        "refused: tampered tag": tag_flipped,
    }


def run() -> list[Row]:
    """Measure and return the rows."""
    _setup()
    from keys.errors import InvalidToken
    from keys.tokens import forget_verified_claims, issue_access_token, verify_access_token

    application = _application()
    token = issue_access_token(application=application).access_token
    rows = [
        _row(
            "issue (sign + encrypt)",
            _timed(lambda: issue_access_token(application=application), ROUNDS),
        ),
        _row(
            "verify cold (decrypt + verify)",
            _timed(lambda: verify_access_token(token), ROUNDS, forget_verified_claims),
        ),
        _row(
            "verify warm (claims cached)", _timed(lambda: verify_access_token(token), ROUNDS * 30)
        ),
    ]
    for name, hostile in _hostile(token).items():

        def refuse(value: str = hostile, label: str = name) -> None:
            try:
                verify_access_token(value)
            except InvalidToken:
                return
            raise AssertionError(f"accepted: {label}")

        rows.append(_row(name, _timed(refuse, ROUNDS)))
    return rows


def print_table(rows: list[Row]) -> None:
    """The rows as a small text table."""
    print(f"{'access tokens':34} {'median µs':>10} {'per second':>11}")
    for row in rows:
        print(f"{row.name:34} {row.median_us:>10.1f} {row.per_second:>11,.0f}")


if __name__ == "__main__":
    print_table(run())
