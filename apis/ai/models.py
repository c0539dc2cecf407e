"""AI providers with their models and prices, and prompt endpoints with their version history.

The tables keep the names they had in the catalog app (`apis_…`): the models moved to this
app in the migration state only, so that an existing database kept its rows where they were.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.json_schemas import schema_problem
from keys.kek import seal, unseal

API_KEY_PURPOSE = "provider-api-key"
DEPLOYMENT_KEY_PURPOSE = "deployment-api-key"


class Provider(models.Model):
    """An AI provider account: its wire format (kind), base URL and encrypted API key."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        GEMINI = "gemini", "Google Gemini"
        MISTRAL = "mistral", "Mistral"
        OLLAMA = "ollama", "Ollama"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible"

    name = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    base_url = models.URLField(
        max_length=500, help_text="What the provider's official SDK takes as its base URL"
    )
    sealed_api_key = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "apis_provider"
        ordering = ["name"]
        verbose_name = "AI provider"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def has_api_key(self) -> bool:
        return bool(self.sealed_api_key)

    def set_api_key(self, api_key: str) -> None:
        """Keep the key only in its encrypted form."""
        self.sealed_api_key = seal(api_key.encode(), purpose=API_KEY_PURPOSE) if api_key else ""

    def api_key(self) -> str:
        """The plain API key, for the outgoing request only."""
        if not self.sealed_api_key:
            return ""
        return unseal(self.sealed_api_key, purpose=API_KEY_PURPOSE).decode()


class ProviderModel(models.Model):
    """A model offered by a provider, with its price in USD per million tokens."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=120)
    input_cost_per_mtok = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="USD per million input tokens; empty takes the bundled price table's",
    )
    output_cost_per_mtok = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="USD per million output tokens; empty takes the bundled price table's",
    )

    class Meta:
        db_table = "apis_providermodel"
        ordering = ["provider", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="model_name_per_provider")
        ]

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.name}"


class Deployment(models.Model):
    """One provider and model serving an `ai` API's model; several share its calls.

    A deployment's own API key (sealed like a provider's), or a provider of its own per
    deployment, spreads calls over several accounts of one provider.
    """

    api = models.ForeignKey("apis.Api", on_delete=models.CASCADE, related_name="deployments")
    name = models.SlugField(max_length=60, help_text="How X-Model and usage name it")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="deployments")
    model = models.CharField(max_length=120)
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(0), MaxValueValidator(1000)]
    )
    rpm = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10_000_000)],
        help_text="Requests per minute the provider allows this deployment; empty for no limit",
    )
    tpm = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000_000)],
        help_text="Tokens per minute the provider allows this deployment (input plus the most "
        "output each call may produce); empty for no limit",
    )
    sealed_api_key = models.TextField(blank=True, editable=False)

    class Meta:
        db_table = "apis_deployment"
        ordering = ["api", "name"]
        constraints = [
            models.UniqueConstraint(fields=["api", "name"], name="deployment_name_per_api")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.provider.name}/{self.model}"

    @property
    def has_api_key(self) -> bool:
        return bool(self.sealed_api_key)

    def set_api_key(self, api_key: str) -> None:
        """Keep the deployment's own key only in its encrypted form; "" takes the provider's."""
        self.sealed_api_key = (
            seal(api_key.encode(), purpose=DEPLOYMENT_KEY_PURPOSE) if api_key else ""
        )

    def own_api_key(self) -> str:
        """The deployment's own plain key ("" when it takes its provider's)."""
        return deployment_key(self.sealed_api_key)


def deployment_key(sealed: str) -> str:
    """A deployment's plain API key from its sealed form ("" for none)."""
    return unseal(sealed, purpose=DEPLOYMENT_KEY_PURPOSE).decode() if sealed else ""


class PromptEndpoint(models.Model):
    """A prompt published as a REST API: model, system message, template, variables' schema."""

    class Output(models.TextChoices):
        TEXT = "text", "Text"
        JSON = "json", "JSON"

    api = models.OneToOneField("apis.Api", on_delete=models.CASCADE, related_name="prompt")
    model = models.CharField(max_length=200, help_text="<provider>/<model>")
    system = models.TextField(blank=True)
    template = models.TextField(help_text="Text with {{variable}} placeholders")
    variables = models.JSONField(default=dict, blank=True, help_text="JSON Schema of variables")
    output = models.CharField(max_length=4, choices=Output.choices, default=Output.TEXT)
    output_schema = models.JSONField(null=True, blank=True, help_text="JSON Schema of the output")
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "apis_promptendpoint"
        ordering = ["api__slug"]

    def __str__(self) -> str:
        return f"{self.api.slug} v{self.version}"

    def clean(self) -> None:
        """Refuse schemas that would fetch a URL or match a pattern without a time bound."""
        schemas = {"variables": self.variables, "output_schema": self.output_schema}
        errors = {
            name: f"Not a usable JSON Schema: {problem}"
            for name, schema in schemas.items()
            if schema is not None and (problem := schema_problem(schema))
        }
        if errors:
            raise ValidationError(errors)


class PromptVersion(models.Model):
    """One saved state of a prompt endpoint: the history shown in admin."""

    prompt = models.ForeignKey(PromptEndpoint, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    model = models.CharField(max_length=200)
    system = models.TextField(blank=True)
    template = models.TextField()
    variables = models.JSONField(default=dict, blank=True)
    output = models.CharField(max_length=4)
    output_schema = models.JSONField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "apis_promptversion"
        ordering = ["prompt", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "version"], name="one_row_per_prompt_version")
        ]

    def __str__(self) -> str:
        return f"{self.prompt.api.slug} v{self.version}"
