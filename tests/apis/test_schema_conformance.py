"""The published management API schema matches the API: schemathesis runs every check on it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import StaffFactory

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")


@pytest.fixture
def seeded(live_server):
    """The demo catalog, and a staff access token to call the management API with."""
    call_command("demo", stdout=io.StringIO())
    return str(AccessToken.for_user(StaffFactory(username="schema-checker")))


def test_every_schemathesis_check_passes_on_the_management_api(live_server, seeded, tmp_path):
    result = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
            "run",
            f"{live_server.url}/api/v1/schema/",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {seeded}",
            "--max-examples",
            "5",
            "--seed",
            "17",
            # One worker: CPython 3.11 can fail ast.parse run in two threads at once with
            # "AST constructor recursion depth mismatch" (python/cpython#106905), and
            # Hypothesis parses its filters' sources while schemathesis generates cases.
            "--workers",
            "1",
        ],
        cwd=tmp_path,  # where schemathesis keeps its cache
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-20000:]
