"""`manage.py catalog export|apply`: the catalog as one YAML document, on PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import yaml
from django.core import mail
from django.core.management import CommandError, call_command

from apis.ai.models import Deployment, Provider
from apis.ai.services import prompt_save, provider_save
from apis.models import Api, Plan, Subscription
from apis.services import api_create, api_transition, plan_create
from keys.kek import unseal
from lifecycle.selectors import history_of
from tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

SUNSET = datetime(2027, 3, 1, tzinfo=UTC)
KEY_VARIABLE = "PORTCULLIS_PROVIDER_OPENAI_API_KEY"
CREDENTIAL_VARIABLE = "PORTCULLIS_API_WEATHER_V1_UPSTREAM_CREDENTIAL"
DEPLOYMENT_KEY_VARIABLE = "PORTCULLIS_DEPLOYMENT_CHAT_EAST_API_KEY"


def export() -> str:
    out = io.StringIO()
    call_command("catalog", "export", stdout=out)
    return out.getvalue()


def apply(tmp_path, text: str, *args: str) -> str:
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    out = io.StringIO()
    call_command("catalog", "apply", str(path), *args, stdout=out)
    return out.getvalue()


def entry_of(document: dict, slug: str) -> dict:
    [entry] = [api for api in document["apis"] if api["slug"] == slug]
    return entry


@pytest.fixture
def secrets(monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, "sk-live-1234")
    monkeypatch.setenv(CREDENTIAL_VARIABLE, "upstream-s3cret")
    monkeypatch.setenv(DEPLOYMENT_KEY_VARIABLE, "sk-east-5678")


@pytest.fixture
def catalog(secrets):
    """Every kind of entry: a provider with a key and models, REST, AI and prompt APIs in
    each state, plans, tags, an upstream credential and an OpenAPI document."""
    openai = provider_save(
        name="openai",
        kind="openai",
        base_url="https://api.openai.com/v1",
        api_key="sk-live-1234",
        models=[{"name": "gpt-4o-mini", "input_cost_per_mtok": "0.15"}, {"name": "o3"}],
    )
    weather = api_create(
        owner=None,
        slug="weather-v1",
        name="Weather",
        version="v1",
        kind="rest",
        upstream_url="https://weather.example.com/",
        upstream_header="X-Api-Key",
        upstream_credential="upstream-s3cret",
        tags=["climate", "demo"],
        openapi={"openapi": "3.1.0", "info": {"title": "Weather", "version": "1"}, "paths": {}},
    )
    plan_create(api=weather, name="free", rate_limit="60/m", monthly_quota=1000)
    plan_create(api=weather, name="gold", rate_limit="10/s", requires_approval=True)
    api_transition(api=weather, to="published", actor=None)
    api_transition(api=weather, to="deprecated", actor=None, sunset=SUNSET)
    chat = api_create(
        owner=None,
        slug="chat",
        name="Chat",
        kind="ai",
        model="openai/gpt-4o-mini",
        fallbacks=["openai/o3"],
    )
    plan_create(api=chat, name="free", token_quota=100000, monthly_budget="12.50")
    east = Deployment(
        api=chat, name="east", provider=openai, model="gpt-4o-mini", weight=3, rpm=500, tpm=90000
    )
    east.set_api_key("sk-east-5678")
    east.save()
    api_transition(api=chat, to="published", actor=None)
    summary = api_create(owner=None, slug="summary", name="Summary", kind="prompt")
    prompt_save(
        api=summary,
        actor=None,
        model="openai/o3",
        system="Be brief.",
        template="Summarise {{text}}",
        variables={"type": "object", "properties": {"text": {"type": "string"}}},
        output="text",
        output_schema=None,
    )
    return weather


def empty_the_catalog() -> None:
    Api.objects.all().delete()
    Provider.objects.all().delete()


def test_round_trip_export_apply_to_empty_database_export_gives_the_same_document(
    tmp_path, catalog
):
    first = export()
    empty_the_catalog()

    apply(tmp_path, first)

    assert export() == first
    weather = Api.objects.get(slug="weather-v1")
    assert (weather.state, weather.sunset) == ("deprecated", SUNSET)
    assert unseal(weather.upstream_secret, purpose="upstream-credential") == b"upstream-s3cret"
    assert Provider.objects.get(name="openai").api_key() == "sk-live-1234"
    chat = entry_of(yaml.safe_load(first), "chat")
    assert chat["plans"][0]["monthly_budget"] == "12.5"
    assert chat["deployments"] == [
        {
            "name": "east",
            "provider": "openai",
            "model": "gpt-4o-mini",
            "weight": 3,
            "rpm": 500,
            "tpm": 90000,
            "api_key": f"${{{DEPLOYMENT_KEY_VARIABLE}}}",
        }
    ]
    assert Deployment.objects.get(name="east").own_api_key() == "sk-east-5678"


def test_export_names_variables_never_secret_values(catalog):
    text = export()

    assert "sk-live-1234" not in text and "upstream-s3cret" not in text
    assert "sk-east-5678" not in text
    document = yaml.safe_load(text)
    assert document["providers"][0]["api_key"] == f"${{{KEY_VARIABLE}}}"
    weather = entry_of(document, "weather-v1")
    assert weather["upstream_credential"] == f"${{{CREDENTIAL_VARIABLE}}}"
    assert [plan["name"] for plan in weather["plans"]] == ["free", "gold"]


def test_export_writes_to_a_file(tmp_path, catalog):
    target = tmp_path / "out.yaml"

    call_command("catalog", "export", "-o", str(target))

    assert target.read_text() == export()


def test_second_apply_changes_nothing(tmp_path, catalog):
    text = export()
    empty_the_catalog()
    apply(tmp_path, text)
    events = sum(history_of(api).count() for api in Api.objects.all())

    again = apply(tmp_path, text)

    assert again.strip() == "Nothing to change."
    assert sum(history_of(api).count() for api in Api.objects.all()) == events


def test_dry_run_prints_the_difference_and_changes_nothing(tmp_path, catalog):
    document = yaml.safe_load(export())
    summary = entry_of(document, "summary")
    summary["description"] = "Summaries of any text."
    summary["plans"] = [{"name": "basic", "rate_limit": "5/m"}]

    out = apply(tmp_path, yaml.safe_dump(document), "--dry-run")

    assert out.splitlines() == [
        "~ api summary: description",
        "+ plan summary/basic",
        "2 change(s); dry run, nothing applied.",
    ]
    assert Api.objects.get(slug="summary").description == ""
    assert not Plan.objects.filter(api__slug="summary").exists()


def test_states_move_through_the_lifecycle_with_history_and_effects(
    tmp_path, catalog, django_capture_on_commit_callbacks
):
    document = yaml.safe_load(export())
    entry = entry_of(document, "chat")
    entry["state"], entry["sunset"] = "deprecated", "2027-06-01T00:00:00+00:00"
    api = Api.objects.get(slug="chat")
    SubscriptionFactory(api=api, plan=api.plans.first())

    with django_capture_on_commit_callbacks(execute=True):
        out = apply(tmp_path, yaml.safe_dump(document))

    assert "> api chat: published → deprecated" in out
    event = history_of(api).first()
    assert (event.from_state, event.to_state, event.note) == (
        "published",
        "deprecated",
        "catalog apply",
    )
    assert len(mail.outbox) == 1 and "deprecated" in mail.outbox[0].subject


def test_a_forbidden_move_is_an_error_naming_the_allowed_ones(tmp_path, catalog):
    document = yaml.safe_load(export())
    entry = entry_of(document, "chat")
    entry["state"] = "design"
    entry["description"] = "changed too"

    with pytest.raises(
        CommandError,
        match=r"api chat: Cannot move from 'published' to 'design'\. Allowed from 'published': "
        r"deprecated\.",
    ):
        apply(tmp_path, yaml.safe_dump(document))

    assert Api.objects.get(slug="chat").description == ""


def test_an_unset_variable_is_an_error_and_a_literal_key_is_refused(tmp_path, catalog, monkeypatch):
    text = export()
    monkeypatch.delenv(KEY_VARIABLE)

    with pytest.raises(CommandError, match=f"refers to \\${{{KEY_VARIABLE}}}, which is not set"):
        apply(tmp_path, text)
    with pytest.raises(CommandError, match=r"\$\.providers\[0\]\.api_key"):
        apply(tmp_path, text.replace(f"${{{KEY_VARIABLE}}}", "sk-in-git"))


def test_a_changed_variable_replaces_the_stored_key(tmp_path, catalog, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, "sk-rotated")

    out = apply(tmp_path, export())

    assert "~ provider openai: api_key" in out
    assert Provider.objects.get(name="openai").api_key() == "sk-rotated"


def test_a_changed_variable_replaces_a_deployments_key(tmp_path, catalog, monkeypatch):
    monkeypatch.setenv(DEPLOYMENT_KEY_VARIABLE, "sk-east-rotated")

    out = apply(tmp_path, export())

    assert "~ deployments chat: east" in out
    assert Deployment.objects.get(name="east").own_api_key() == "sk-east-rotated"


def test_without_prune_nothing_is_deleted(tmp_path, catalog):
    document = yaml.safe_load(export())
    document["apis"] = [api for api in document["apis"] if api["slug"] != "summary"]
    document["providers"] = []

    assert apply(tmp_path, yaml.safe_dump(document)).strip() == "Nothing to change."
    assert Api.objects.filter(slug="summary").exists() and Provider.objects.exists()


def test_prune_deletes_what_has_no_subscriptions_without_asking(tmp_path, catalog):
    document = yaml.safe_load(export())
    document["apis"] = [api for api in document["apis"] if api["slug"] != "summary"]

    out = apply(tmp_path, yaml.safe_dump(document), "--prune")

    assert "- api summary" in out
    assert not Api.objects.filter(slug="summary").exists()


def test_prune_of_subscribed_items_needs_confirmation(tmp_path, catalog):
    chat = Api.objects.get(slug="chat")
    SubscriptionFactory(api=chat, plan=chat.plans.first())
    weather = Api.objects.get(slug="weather-v1")
    gold = weather.plans.get(name="gold")
    SubscriptionFactory(api=weather, plan=gold, status=Subscription.Status.PENDING)
    document = yaml.safe_load(export())
    document["apis"] = [api for api in document["apis"] if api["slug"] != "chat"]
    entry = entry_of(document, "weather-v1")
    entry["plans"] = [plan for plan in entry["plans"] if plan["name"] != "gold"]
    text = yaml.safe_dump(document)

    with pytest.raises(CommandError, match=r"ending 2 subscription\(s\)\. Confirm with --yes"):
        apply(tmp_path, text, "--prune")
    assert Api.objects.filter(slug="chat").exists() and Plan.objects.filter(pk=gold.pk).exists()

    out = apply(tmp_path, text, "--prune", "--yes")

    assert "- api chat: 1 subscription(s) and its usage history" in out
    assert "- plan weather-v1/gold: 1 subscription(s)" in out
    assert not Api.objects.filter(slug="chat").exists()
    assert not Plan.objects.filter(pk=gold.pk).exists()


def test_invalid_documents_name_the_place(tmp_path, db):
    with pytest.raises(CommandError, match=r"\$\.apis\[0\]: Additional properties"):
        apply(tmp_path, "version: 1\napis:\n- {slug: a, name: A, ratelimit: 3}\n")
    with pytest.raises(CommandError, match=r"\$\.version"):
        apply(tmp_path, "version: 2\n")
    with pytest.raises(CommandError, match="aliases"):
        apply(tmp_path, "version: 1\napis: &a []\nproviders: *a\n")


def test_a_value_the_model_refuses_applies_nothing(tmp_path, db):
    text = (
        "version: 1\napis:\n- {slug: good, name: Good, kind: rest, upstream_url: 'https://a.example/'}\n"
        "- {slug: bad, name: Bad, kind: rest, upstream_url: ''}\n"
    )

    with pytest.raises(
        CommandError,
        match=r"Nothing applied: upstream_url: A REST API needs an upstream URL or targets\.",
    ):
        apply(tmp_path, text)

    assert not Api.objects.exists()
