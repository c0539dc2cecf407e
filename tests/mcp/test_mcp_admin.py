"""Staff manage MCP servers in admin: snapshots on demand, tools granted by checkbox, the audit."""

from __future__ import annotations

import io

import yaml
from django.core.management import call_command
from django.test import Client

from apis.mcp.audit import AuditEntry, audit_store
from apis.models import Api, McpSnapshot, Plan


def _admin(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_the_plan_offers_the_snapshots_tools_as_checkboxes(staff, tools_api):
    plan = tools_api.plans.get()
    admin = _admin(staff)

    page = admin.get(f"/admin/apis/plan/{plan.pk}/change/").content.decode()
    saved = admin.post(
        f"/admin/apis/plan/{plan.pk}/change/",
        {
            "api": tools_api.pk,
            "name": "basic",
            "rate_limit": "60/m",
            "max_output_tokens": "4096",
            "allowed_tools": ["hold", "wipe"],
        },
    )

    for name in ("echo", "add", "wipe", "hold"):
        assert f'value="{name}"' in page
    assert page.count("checked") == 2, "echo and add, the tools the plan grants now"
    assert saved.status_code == 302
    plan.refresh_from_db()
    assert plan.allowed_tools == ["hold", "wipe"]


def test_staff_refresh_the_snapshot_from_the_api_list(staff, tools_api, upstream_server):
    McpSnapshot.objects.filter(api=tools_api).update(tools=[])
    before = upstream_server.methods().count("tools/list")

    answer = _admin(staff).post(
        "/admin/apis/api/",
        {"action": "refresh_snapshots", "_selected_action": [tools_api.pk]},
        follow=True,
    )

    assert "Tools: 4 tool(s)." in answer.content.decode()
    assert upstream_server.methods().count("tools/list") == before + 1
    assert len(McpSnapshot.objects.get(api=tools_api).tools) == 4


def test_a_refresh_that_fails_keeps_the_last_tools_and_says_why(staff, tools_api, upstream_server):
    upstream_server.stop()

    answer = _admin(staff).post(
        "/admin/apis/api/",
        {"action": "refresh_snapshots", "_selected_action": [tools_api.pk]},
        follow=True,
    )

    assert "Tools: The MCP server could not be reached" in answer.content.decode()
    assert len(McpSnapshot.objects.get(api=tools_api).tools) == 4


def test_staff_filter_the_audit_by_outcome(staff, agent_app, tools_api):
    entries = [
        AuditEntry(
            event_id=f"e{n}",
            at="2026-12-01T10:00:00+00:00",
            application_id=agent_app.pk,
            api_slug="tools",
            method="tools/call",
            target=target,
            arguments_sha256="0" * 64,
            outcome=outcome,
            detail="",
            latency_ms=5,
        )
        for n, (target, outcome) in enumerate([("tools.echo", "ok"), ("tools.wipe", "refused")])
    ]
    audit_store(entries)
    audit_store(entries)

    page = _admin(staff).get("/admin/apis/toolcallaudit/?outcome=refused").content.decode()

    assert "tools.wipe" in page
    assert "tools.echo" not in page


def test_a_non_mcp_plan_has_no_tools_to_grant(staff, echo):
    page = _admin(staff).get(f"/admin/apis/plan/{echo.plans.get().pk}/change/").content.decode()

    assert "allowed_tools" not in page
    assert Api.objects.get(slug="echo").kind == "rest"
    assert Plan.objects.get(api=echo).allowed_tools == []


def test_metrics_count_the_audited_calls(staff, agent_app, tools_api):
    audit_store(
        [
            AuditEntry(
                event_id=f"m{n}",
                at="2026-12-01T10:00:00+00:00",
                application_id=agent_app.pk,
                api_slug="tools",
                method="tools/call",
                target="tools.echo",
                arguments_sha256="0" * 64,
                outcome="ok",
                detail="",
                latency_ms=5,
            )
            for n in range(3)
        ]
    )

    text = _admin(staff).get("/metrics").content.decode()

    assert 'portcullis_mcp_calls_total{api="tools",method="tools/call",outcome="ok"} 3.0' in text


def test_the_catalog_document_carries_an_mcp_api_and_its_granted_tools(
    tmp_path, tools_api, monkeypatch
):
    monkeypatch.setenv("PORTCULLIS_API_TOOLS_UPSTREAM_CREDENTIAL", "staff-secret")
    out = io.StringIO()
    call_command("catalog", "export", stdout=out)
    document = yaml.safe_load(out.getvalue())
    [entry] = [api for api in document["apis"] if api["slug"] == "tools"]
    assert (entry["kind"], entry["plans"][0]["allowed_tools"]) == ("mcp", ["echo", "add"])

    entry["plans"][0]["allowed_tools"] = ["*"]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(document))
    call_command("catalog", "apply", str(path), stdout=io.StringIO())

    assert Plan.objects.get(api=tools_api).allowed_tools == ["*"]
