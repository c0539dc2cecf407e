"""The protocol's own conformance suite (npm @modelcontextprotocol/conformance) against /mcp.

Runs when MCP_CONFORMANCE_RUNNER names the suite's dist/index.js (`make conformance` installs it
and sets it). The suite's client sends no credentials, so it talks to a loopback proxy that adds
a subscribed application's token; Host and Origin pass through untouched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from apis.ai.services import prompt_save
from apis.models import Api
from apis.services import api_transition
from tests.factories import ApiFactory, PlanFactory, SubscriptionFactory
from tests.mcp.agent_proxy import AgentProxy
from tests.tokens import token_for

RUNNER = os.environ.get("MCP_CONFORMANCE_RUNNER", "")
NODE20_SHIM = Path(__file__).parent / "conformance" / "node20.mjs"
# Scenarios of what Portcullis offers; the others exercise the suite's own reference tools and
# resources (fixed names a gateway's tools, named after their APIs, do not have), prompts with
# images or embedded resources, and server-to-client requests, which Portcullis does not offer.
RESULT_FOLDER = re.compile(r"^server-(?P<name>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
MUST_PASS = {
    "server-initialize",
    "ping",
    "tools-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
    "resources-list",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "completion-complete",
}
# The suite's prompts, published as prompt APIs: (slug, template, variables' schema).
SUITE_PROMPTS = [
    ("test_simple_prompt", "This is a simple prompt for testing.", {"type": "object"}),
    (
        "test_prompt_with_arguments",
        "Prompt with arguments: arg1='{{arg1}}', arg2='{{arg2}}'",
        {
            "type": "object",
            "properties": {
                "arg1": {"type": "string", "description": "First test argument"},
                "arg2": {"type": "string", "description": "Second test argument"},
            },
            "required": ["arg1", "arg2"],
        },
    ),
]

pytestmark = pytest.mark.skipif(
    not RUNNER, reason="set MCP_CONFORMANCE_RUNNER (make conformance) to run the MCP suite"
)


def run_suite(url: str, output: Path) -> subprocess.CompletedProcess:
    command = ["node", "--import", str(NODE20_SHIM), RUNNER, "server", "--url", url]
    return subprocess.run(
        [*command, "-o", str(output)], capture_output=True, text=True, timeout=900, check=False
    )


def scenario_results(output: Path) -> dict[str, list[dict]]:
    """{scenario: its checks}, from the suite's checks.json files."""
    results = {}
    for checks in output.rglob("checks.json"):
        scenario = RESULT_FOLDER.match(checks.parent.name)
        results[scenario["name"] if scenario else checks.parent.name] = json.loads(
            checks.read_text()
        )
    return results


def failed(checks: list[dict]) -> list[dict]:
    return [check for check in checks if check.get("status") == "FAILURE"]


@pytest.fixture
def suite_prompts(subscribed, provider):
    """The suite's two plain prompts as prompt APIs the agent's application subscribes to."""
    for slug, template, variables in SUITE_PROMPTS:
        api = ApiFactory(slug=slug, name=slug, kind=Api.Kind.PROMPT, upstream_url="")
        model = f"{provider.name}/ok-model"
        prompt_save(api=api, actor=None, model=model, template=template, variables=variables)
        plan = PlanFactory(api=api, name="basic", rate_limit="1000/m")
        api_transition(api=api, to="published", actor=None)
        SubscriptionFactory(application=subscribed, api=api, plan=plan)
    return token_for(subscribed)


def test_conformance_suite(live_server, suite_prompts, tmp_path):
    with AgentProxy(live_server.url, suite_prompts) as proxy:
        run = run_suite(f"http://localhost:{proxy.port}/mcp", tmp_path)

    results = scenario_results(tmp_path)
    passing = {name for name, checks in results.items() if not failed(checks)}
    summary = Path(os.environ.get("MCP_CONFORMANCE_SUMMARY", tmp_path / "summary.txt"))
    summary.write_text(
        f"{len(passing)} passed, {len(results) - len(passing)} failed\n"
        + "".join(
            f"FAIL {name}: {failed(checks)[0].get('errorMessage', '')}\n"
            for name, checks in sorted(results.items())
            if name not in passing
        )
    )
    print(run.stdout[-4000:], summary.read_text(), sep="\n")
    assert results, run.stderr[-2000:]
    assert passing >= MUST_PASS
