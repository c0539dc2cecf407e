"""The catalog: APIs with their lifecycle, their plans, and applications' subscriptions."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import NoReverseMatch

from lifecycle.models import LifecycleModel
from lifecycle.states import State

RATE_PATTERN = re.compile(
    r"^(?P<count>[1-9]\d{0,8})/(?P<multiplier>[1-9]\d{0,5})?(?P<unit>[smhd])$"
)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TOOL_NAME = re.compile(r"^(\*|[A-Za-z0-9_.-]{1,128})$")
ALLOWED_TOOLS_MAX = 1000
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # an RFC 9110 token
# The purpose upstream credentials are sealed under (keys.kek): an API's, and for MCP servers
# each application's own.
UPSTREAM_CREDENTIAL = "upstream-credential"

_page_of: Callable[[str], str] | None = None


def api_page_register(page_of: Callable[[str], str]) -> None:
    """Name the function giving the path of an API's page from its slug (the portal's, from its
    AppConfig.ready()), so that the catalog names none of the portal's URLs."""
    global _page_of
    _page_of = page_of


def validate_rate(value: str) -> None:
    """django-ratelimit's rate syntax: `<count>/<period>`, period like `s`, `m`, `15m`, `h`, `d`."""
    if not RATE_PATTERN.match(value or ""):
        raise ValidationError(
            "Enter a rate like '60/m', '1000/h' or '10/15m' (count per s, m, h or d).",
            code="invalid_rate",
        )


def rate_parts(value: str) -> tuple[int, int]:
    """(requests, window in seconds) of a valid rate."""
    match = RATE_PATTERN.match(value)
    if match is None:
        raise ValueError(f"invalid rate {value!r}")
    multiplier = int(match["multiplier"] or 1)
    return int(match["count"]), multiplier * UNIT_SECONDS[match["unit"]]


def validate_allowed_tools(value: object) -> None:
    """A list of at most ALLOWED_TOOLS_MAX tool names (MCP's 1-128 characters), or ["*"]."""
    if not isinstance(value, list) or len(value) > ALLOWED_TOOLS_MAX:
        raise ValidationError(f"List at most {ALLOWED_TOOLS_MAX} tool names.", code="invalid")
    if not all(isinstance(name, str) and TOOL_NAME.match(name) for name in value):
        raise ValidationError(
            'Each tool name is 1 to 128 of A-Z a-z 0-9 _ - . (or "*" for all).', code="invalid"
        )


def default_failure_statuses() -> list[int]:
    """Answers that say the upstream itself is failing, not the call."""
    return [500, 502, 503, 504]


def validate_statuses(value: object) -> None:
    """A list of at most 100 HTTP statuses from 500 to 599."""
    if not isinstance(value, list) or len(value) > 100:
        raise ValidationError("Enter a list of at most 100 statuses.", code="invalid_statuses")
    if not all(isinstance(code, int) and 500 <= code <= 599 for code in value):
        raise ValidationError("Statuses that count as failures lie from 500 to 599.")


class Tag(models.Model):
    """A label for finding APIs in the catalog."""

    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Api(LifecycleModel):
    """An API published through the gateway."""

    class Kind(models.TextChoices):
        REST = "rest", "REST upstream"
        AI = "ai", "AI model"
        PROMPT = "prompt", "Prompt endpoint"
        MCP = "mcp", "MCP server"

    class McpRevision(models.TextChoices):
        NEGOTIATE = "", "Negotiate (newest both speak)"
        V2025_06_18 = "2025-06-18", "2025-06-18"
        V2025_11_25 = "2025-11-25", "2025-11-25"
        V2026_07_28 = "2026-07-28", "2026-07-28"

    class Balancing(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Weighted round robin"
        LEAST_IN_FLIGHT = "least_in_flight", "Fewest calls in flight"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    version = models.CharField(max_length=40, default="v1")
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REST)
    upstream_url = models.URLField(max_length=500, blank=True)
    model = models.CharField(max_length=200, blank=True, help_text="<provider>/<model> for AI APIs")
    fallbacks = models.JSONField(default=list, blank=True)

    class Routing(models.TextChoices):
        WEIGHT = "weight", "By weight"
        LEAST_BUSY = "least-busy", "Fewest calls in flight"
        LATENCY = "latency", "Lowest recent latency"

    routing = models.CharField(
        max_length=12,
        choices=Routing.choices,
        default=Routing.WEIGHT,
        help_text="How an AI API with deployments chooses the one to call first",
    )
    cooldown = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Seconds a deployment answering 429, 5xx or timing out is left alone",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="apis")
    cache_ttl = models.PositiveIntegerField(default=0, help_text="Seconds; 0 disables caching")
    public_cache = models.BooleanField(
        default=False, help_text="Cached answers may be shared between applications"
    )
    timeout = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="Seconds the upstream may stay silent: before its answer or between two chunks",
    )
    connect_timeout = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text="Seconds to open a connection to the upstream",
    )
    total_timeout = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(86_400)],
        help_text=(
            "Seconds the whole upstream call may last, streamed answer included; empty: no limit"
        ),
    )
    # With targets (apis.models.targets): how calls are spread, and when a target counts as down.
    balancing = models.CharField(
        max_length=16, choices=Balancing.choices, default=Balancing.ROUND_ROBIN
    )
    health_path = models.CharField(
        max_length=200,
        blank=True,
        validators=[RegexValidator(r"^/[^\s?#]*$", "Enter a path like /healthz.")],
        help_text="Path probed on every target on a schedule; empty: no active probes",
    )
    failure_statuses = models.JSONField(
        default=default_failure_statuses,
        blank=True,
        validators=[validate_statuses],
        help_text="Upstream statuses that count against a target, besides connect errors",
    )
    circuit_failures = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Failures within the window that open a target's circuit",
    )
    circuit_window = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Seconds in which those failures are counted",
    )
    circuit_cool_down = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="Seconds an open circuit stays open before one trial call",
    )
    upstream_header = models.CharField(
        max_length=100,
        blank=True,
        validators=[RegexValidator(HEADER_NAME, "Enter an HTTP header name, e.g. X-Api-Key.")],
        help_text="Header the gateway adds with the upstream credential, e.g. X-Api-Key",
    )
    # Sealed under PORTCULLIS_KEK (keys.kek); set through api_set_upstream_credential() only.
    upstream_secret = models.TextField(blank=True, editable=False)
    credential_per_application = models.BooleanField(
        default=False,
        help_text="MCP servers: each developer stores their own upstream credential for their "
        "application, sent in the header above instead of the API's",
    )
    mcp_revision = models.CharField(
        max_length=10,
        choices=McpRevision.choices,
        blank=True,
        help_text="MCP servers: the protocol revision spoken to the upstream",
    )
    require_encrypted_token = models.BooleanField(default=True)
    openapi = models.JSONField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "teams.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="apis",
        help_text="The provider team whose owners and admins manage this API; empty: staff only",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The targets this instance carries in memory: those a service is about to save with it
    # (clean() must know of them), or those the gateway loaded with it (no query per call).
    listed_targets: list = []

    class Meta:
        ordering = ["name", "version"]
        verbose_name = "API"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="api_name_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def get_absolute_url(self) -> str:
        """The API's page (NoReverseMatch while no portal has said where its pages are)."""
        if _page_of is None:
            raise NoReverseMatch("No page of APIs is registered.")
        return _page_of(self.slug)

    def clean(self) -> None:
        if self.kind == self.Kind.REST and not (self.upstream_url or self.has_targets):
            raise ValidationError({"upstream_url": "A REST API needs an upstream URL or targets."})
        if self.kind == self.Kind.MCP and not self.upstream_url:
            raise ValidationError({"upstream_url": "An MCP server needs an upstream URL."})
        if self.credential_per_application and not self.upstream_header:
            raise ValidationError(
                {"upstream_header": "Name the header that carries each developer's credential."}
            )
        if self.kind == self.Kind.AI and "/" not in self.model:
            raise ValidationError({"model": "Name the model as '<provider>/<model>'."})

    @property
    def has_targets(self) -> bool:
        """Whether calls are balanced over targets (given with the API, or saved)."""
        return bool(self.listed_targets) or (self.pk is not None and self.targets.exists())

    @property
    def accepts_subscriptions(self) -> bool:
        return self.state == State.PUBLISHED


class Plan(models.Model):
    """What a subscription to an API allows: a rate limit, quotas, approval."""

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="plans")
    name = models.CharField(max_length=60)
    rate_limit = models.CharField(max_length=20, default="60/m", validators=[validate_rate])
    monthly_quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per calendar month (UTC); empty for none"
    )
    token_quota = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="AI tokens per calendar month (UTC); empty for none"
    )
    monthly_budget = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="USD per subscription per calendar month (UTC) on AI calls; empty for none",
    )
    max_output_tokens = models.PositiveIntegerField(
        default=4096,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Output tokens an AI call may use when it does not say (its budget's worst case)",
    )
    requires_approval = models.BooleanField(default=False)
    allowed_tools = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_allowed_tools],
        help_text='MCP servers: the upstream tools this plan grants, "*" for all; none by default',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["api", "name"]
        constraints = [models.UniqueConstraint(fields=["api", "name"], name="plan_name_per_api")]

    def __str__(self) -> str:
        return f"{self.api.slug}: {self.name} ({self.rate_limit})"

    def grants(self, tool: str) -> bool:
        """Whether this plan lets its subscribers list and call the upstream tool `tool`."""
        return "*" in self.allowed_tools or tool in self.allowed_tools


class Subscription(models.Model):
    """An application's right to call one API under one plan."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        REJECTED = "rejected", "Rejected"
        REVOKED = "revoked", "Revoked"
        ENDED = "ended", "Ended"

    LIVE = (Status.PENDING, Status.ACTIVE)

    application = models.ForeignKey(
        "keys.Application", on_delete=models.CASCADE, related_name="subscriptions"
    )
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "api"],
                condition=Q(status__in=["pending", "active"]),
                name="one_live_subscription_per_application_and_api",
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} → {self.api.slug} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE
