"""The management REST API of the catalog: APIs, transitions, history, plans, subscriptions."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import BaseParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apis import selectors, services
from apis.conf import catalog_settings
from apis.errors import InvalidOpenApi
from apis.models import Api, Plan, Subscription, UpstreamTarget
from apis.models.catalog import ALLOWED_TOOLS_MAX
from apis.openapi_documents import openapi_read
from apis.permissions import RunsCatalog
from core.errors import NotFound
from core.schema import STAFF_ONLY, problem_answer
from core.serializers import JSONDocumentField, StrictFieldsMixin
from core.users import signed_in_user
from keys.selectors import applications_of
from lifecycle.selectors import history_of
from lifecycle.states import State


class TagsField(serializers.ListField):
    """Tags written as a list of slugs, read from the API's tag relation."""

    child = serializers.SlugField(max_length=50)

    def to_representation(self, data) -> list[str]:
        return [tag.name for tag in data.all()]


# How a REST API's calls are balanced over its targets, and when a target counts as down.
TARGET_FIELDS = (
    "targets",
    "balancing",
    "health_path",
    "failure_statuses",
    "circuit_failures",
    "circuit_window",
    "circuit_cool_down",
)


def _kind_needs(kind: str, field: str = "", schema: dict | None = None) -> dict:
    """The JSON Schema of "an API of `kind`, whose `field` matches `schema`"."""
    rule: dict = {
        "required": [] if kind == "rest" else ["kind"],
        "properties": {"kind": {"enum": [kind]}},
    }
    if field:
        rule["required"].append(field)
        rule["properties"][field] = schema
    return rule


HEADER = {"required": ["upstream_header"], "properties": {"upstream_header": {"minLength": 1}}}


class TargetSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """One upstream target of a REST API."""

    class Meta:
        model = UpstreamTarget
        fields = ["url", "weight"]
        extra_kwargs = {"weight": {"min_value": 1, "max_value": 1000}}


class ApiSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An API as the management API shows it; its state changes only by transition.

    Where the gateway forwards to, and with which credential, is for staff and the API's own
    team: a developer who knew the backend could call it around the gateway's limits.
    """

    staff_only_fields: tuple[str, ...] = (
        "upstream_url",
        "upstream_header",
        "has_upstream_credential",
    )
    staff_only_fields += TARGET_FIELDS
    # What Api.clean() and validate() require together: each kind its upstream or model (a
    # missing `kind` is rest), and a header for any upstream credential.
    schema_rules = {
        "allOf": [
            {
                "anyOf": [
                    _kind_needs("rest", "upstream_url", {"minLength": 1}),
                    _kind_needs("rest", "targets", {"minItems": 1}),
                    _kind_needs("mcp", "upstream_url", {"minLength": 1}),
                    _kind_needs("ai", "model", {"pattern": "/"}),
                    _kind_needs("prompt"),
                ]
            },
            {"anyOf": [{"properties": {"credential_per_application": {"enum": [False]}}}, HEADER]},
            {"anyOf": [{"properties": {"upstream_credential": {"maxLength": 0}}}, HEADER]},
        ]
    }

    tags = TagsField(required=False, max_length=20)
    # With many=True DRF hands max_length to the ListSerializer; the stubs do not list it.
    targets = TargetSerializer(  # type: ignore[call-arg]
        many=True,
        required=False,
        max_length=50,
        help_text=f"{STAFF_ONLY} Upstreams the calls are balanced over, instead of upstream_url.",
    )
    failure_statuses = serializers.ListField(
        child=serializers.IntegerField(min_value=500, max_value=599), required=False, max_length=100
    )
    openapi = JSONDocumentField(required=False, allow_null=True)
    fallbacks = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=10
    )
    upstream_credential = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=4096,
        trim_whitespace=False,
        help_text="Value of upstream_header sent upstream; write-only, sealed at rest. "
        "Empty removes it.",
    )
    has_upstream_credential = serializers.SerializerMethodField(
        help_text=f"{STAFF_ONLY} Whether an upstream credential is stored."
    )

    class Meta:
        model = Api
        fields = [
            "slug",
            "name",
            "version",
            "description",
            "kind",
            "upstream_url",
            "model",
            "fallbacks",
            "tags",
            "cache_ttl",
            "public_cache",
            "timeout",
            "connect_timeout",
            "total_timeout",
            *TARGET_FIELDS,
            "upstream_header",
            "upstream_credential",
            "has_upstream_credential",
            "credential_per_application",
            "mcp_revision",
            "require_encrypted_token",
            "openapi",
            "team",
            "state",
            "sunset",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["state", "sunset", "created_at", "updated_at"]
        extra_kwargs = {
            "timeout": {"min_value": 1, "max_value": 600},
            "connect_timeout": {"min_value": 1, "max_value": 60},
            "total_timeout": {"min_value": 1, "max_value": 86_400},
            "circuit_failures": {"min_value": 1, "max_value": 1000},
            "circuit_window": {"min_value": 1, "max_value": 3600},
            "circuit_cool_down": {"min_value": 1, "max_value": 3600},
            "upstream_url": {"help_text": f"{STAFF_ONLY} Where the gateway forwards calls."},
            "team": {"help_text": "The provider team that manages the API; staff set it."},
            "upstream_header": {
                "help_text": f"{STAFF_ONLY} Header the gateway adds with the upstream credential."
            },
        }

    def to_representation(self, instance: Api) -> dict:
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and instance.pk in self._managed_ids(request):
            return data
        for name in self.staff_only_fields:
            data.pop(name, None)
        if data.get("openapi") is not None:
            gateway = reverse("gateway", kwargs={"slug": instance.slug})
            data["openapi"] = selectors.api_openapi_for_developers(
                instance, gateway_url=request.build_absolute_uri(gateway) if request else gateway
            )
        return data

    def _managed_ids(self, request: Request) -> set[int]:
        # Once per answer, not once per API of a list: the context is shared by its rows.
        if "managed_api_ids" not in self.context:
            managed = selectors.apis_managed_by(signed_in_user(request)).values_list(
                "pk", flat=True
            )
            self.context["managed_api_ids"] = set(managed)
        return self.context["managed_api_ids"]

    def get_has_upstream_credential(self, api: Api) -> bool:
        return bool(api.upstream_secret)

    def validate_team(self, team):
        if not selectors.runs_catalog(self.context["request"].user):
            raise PermissionDenied("Only staff set the team of an API.")
        return team

    def validate(self, attrs):
        header = attrs.get("upstream_header", getattr(self.instance, "upstream_header", ""))
        if attrs.get("upstream_credential") and not header:
            raise serializers.ValidationError(
                {"upstream_header": "Name the header that carries the upstream credential."}
            )
        return attrs

    def validate_openapi(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("An OpenAPI document is a JSON object.")
        return value


class TransitionSerializer(StrictFieldsMixin, serializers.Serializer):
    """A request to move an API through its lifecycle."""

    to = serializers.ChoiceField(choices=State.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    sunset = serializers.DateTimeField(required=False, allow_null=True, default=None)


class HistorySerializer(serializers.Serializer):
    """One lifecycle event: from, to, actor, at, note, sunset."""

    to = serializers.ChoiceField(choices=State.choices, source="to_state")
    actor = serializers.SerializerMethodField()
    at = serializers.DateTimeField()
    note = serializers.CharField()
    sunset = serializers.DateTimeField(allow_null=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        # `from` is a Python keyword, so it cannot be declared as a class attribute.
        origin = serializers.ChoiceField(choices=State.choices, source="from_state")
        return {"from": origin, **super().get_fields()}

    def get_actor(self, event) -> str | None:
        return event.actor.get_username() if event.actor else None


class PlanSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A plan of an API: rate limit, quotas, approval."""

    # The model's own rules, spelled so that the schema states them too.
    rate_limit = serializers.RegexField(
        r"^[1-9][0-9]{0,8}/([1-9][0-9]{0,5})?[smhd]$",
        max_length=20,
        required=False,
        help_text="Requests per period: '60/m', '1000/h', '10/15m' (s, m, h or d).",
        error_messages={"invalid": "Enter a rate like '60/m', '1000/h' or '10/15m'."},
    )
    allowed_tools = serializers.ListField(
        child=serializers.RegexField(r"^(\*|[A-Za-z0-9_.-]{1,128})$"),
        max_length=ALLOWED_TOOLS_MAX,
        required=False,
        help_text='MCP servers: the upstream tools this plan grants, "*" for all.',
    )

    class Meta:
        model = Plan
        fields = [
            "id",
            "name",
            "rate_limit",
            "monthly_quota",
            "token_quota",
            "monthly_budget",
            "max_output_tokens",
            "requires_approval",
            "allowed_tools",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class ManagesApi(BasePermission):
    """Anyone signed in reads; staff add APIs; staff and the API's team change one."""

    message = "Only staff and the team of this API can change it."

    def has_permission(self, request: Request, view) -> bool:
        return (
            request.method in SAFE_METHODS
            or view.detail
            or selectors.runs_catalog(signed_in_user(request))
        )

    def has_object_permission(self, request: Request, view, api: Api) -> bool:
        return request.method in SAFE_METHODS or selectors.api_managed_by(
            api, signed_in_user(request)
        )


class OpenApiDocumentParser(BaseParser):
    """The request body as bytes, JSON or YAML alike, never more than the document limit."""

    media_type = "*/*"

    # DRF takes whatever a parser returns as request.data; the stubs allow only mappings.
    def parse(self, stream, media_type=None, parser_context=None) -> bytes:  # type: ignore[override]
        limit = catalog_settings.OPENAPI_MAX_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise InvalidOpenApi(f"The document is over {limit} bytes.", location="$")
        return body


# What every document the import accepts has: OpenAPI 3.0 or 3.1, a title and a version, and
# (for a new API) an http(s) server as its upstream. The rest is the specification's, checked
# in full by `openapi_validate`, which no OpenAPI 3.0 schema object can restate.
OPENAPI_DOCUMENT = {
    "type": "object",
    "description": "An OpenAPI 3.0 or 3.1 document. Its first server becomes a new API's "
    "upstream; its title and version name the API to update when `?slug=` does not.",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": "^3\\.[01]"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {
                "title": {"type": "string", "minLength": 1},
                "version": {"type": "string", "minLength": 1},
            },
        },
        "servers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url"],
                "properties": {"url": {"type": "string"}},
            },
        },
        "paths": {"type": "object"},
    },
}


class DocumentBodySchema(AutoSchema):
    """The import's schema: the document is required, in JSON or YAML alike."""

    def _get_request_body(self, direction: str = "request") -> dict | None:
        body = super()._get_request_body(direction)
        if body is not None:
            body["required"] = True
        return body


class ApiViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The catalog; developers see published and deprecated APIs and their teams', staff all."""

    serializer_class = ApiSerializer
    permission_classes = [IsAuthenticated, ManagesApi]
    lookup_field = "slug"

    def get_queryset(self):
        apis = selectors.apis_visible_to(self.request.user)
        params = self.request.query_params
        return selectors.apis_search(
            apis, q=params.get("q", ""), tag=params.get("tag", ""), state=params.get("state", "")
        )

    def perform_create(self, serializer) -> None:
        serializer.instance = services.api_create(
            owner=signed_in_user(self.request), **serializer.validated_data
        )

    def perform_update(self, serializer) -> None:
        serializer.instance = services.api_update(
            api=serializer.instance, **serializer.validated_data
        )

    @extend_schema(
        request={"application/json": OPENAPI_DOCUMENT, "application/yaml": OPENAPI_DOCUMENT},
        responses={
            200: ApiSerializer,
            201: ApiSerializer,
            **problem_answer(404, "No API has the slug `?slug=` names."),
        },
        parameters=[OpenApiParameter("slug", str, description="The API to update (optional).")],
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[OpenApiDocumentParser],
        permission_classes=[IsAuthenticated, RunsCatalog],
        schema=DocumentBodySchema(),
    )
    def import_openapi(self, request: Request) -> Response:
        """Create (201, in design) or update (200) an API from an OpenAPI 3.0/3.1 document.

        `?slug=` names the API to update; otherwise the document's title and version do.
        """
        slug = request.query_params.get("slug")
        api = self.get_queryset().filter(slug=slug).first() if slug else None
        if slug and api is None:
            raise NotFound(f"No API with the slug {slug[:80]!r}.")
        # Without a Content-Type DRF parses nothing and hands over an empty dict.
        body = request.data if isinstance(request.data, bytes) else b""
        document = openapi_read(body)
        api, created = services.api_import(
            document=document, actor=signed_in_user(request), api=api
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(api).data, status=code)

    @extend_schema(request=TransitionSerializer, responses=ApiSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, slug: str) -> Response:
        """Move the API to another lifecycle state (staff, the API's team); 409 names the
        allowed ones."""
        api = self.get_object()
        form = TransitionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.api_transition(api=api, actor=signed_in_user(request), **form.validated_data)
        return Response(self.get_serializer(api).data)

    @extend_schema(responses=HistorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request: Request, slug: str) -> Response:
        """The API's lifecycle events, newest first (staff, the API's team)."""
        api = self.get_object()
        if not selectors.api_managed_by(api, signed_in_user(request)):
            self.permission_denied(request, message=ManagesApi.message)
        events = history_of(api)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(HistorySerializer(page, many=True).data)

    @extend_schema(methods=["GET"], responses=PlanSerializer(many=True))
    @extend_schema(methods=["POST"], request=PlanSerializer, responses={201: PlanSerializer})
    # The plans of an API are few and answered whole, not in pages.
    @action(
        detail=True, methods=["get", "post"], serializer_class=PlanSerializer, pagination_class=None
    )
    def plans(self, request: Request, slug: str) -> Response:
        """The API's plans; staff and the API's team add one with POST."""
        api = self.get_object()
        if request.method == "GET":
            return Response(PlanSerializer(api.plans.all(), many=True).data)
        form = PlanSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        plan = services.plan_create(api=api, **form.validated_data)
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class OwnApplicationField(serializers.PrimaryKeyRelatedField):
    """An application by id, among the caller's teams': others' answer as if they did not exist."""

    def get_queryset(self):
        return applications_of(self.context["request"].user)


class VisibleApiField(serializers.SlugRelatedField):
    """An API by slug, among those the caller may see: design APIs stay hidden from developers."""

    def get_queryset(self):
        return selectors.apis_visible_to(self.context["request"].user)


class VisiblePlanField(serializers.PrimaryKeyRelatedField):
    """A plan of an API the caller may see."""

    def get_queryset(self):
        return Plan.objects.filter(api__in=selectors.apis_visible_to(self.context["request"].user))


class SubscriptionSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An application's subscription to an API under a plan."""

    application = OwnApplicationField(
        error_messages={"does_not_exist": "You have no application with this id."}
    )
    api = VisibleApiField(
        slug_field="slug", error_messages={"does_not_exist": "No API with this slug."}
    )
    plan = VisiblePlanField(error_messages={"does_not_exist": "No plan with this id."})

    class Meta:
        model = Subscription
        fields = ["id", "application", "api", "plan", "status", "created_at", "updated_at"]
        read_only_fields = ["id", "status", "created_at", "updated_at"]
        # One live subscription per application and API is the service's rule (409), not a
        # generic 400 from a validator derived from the database constraint.
        validators: list = []


class SubscriptionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """The subscriptions of the caller's teams' applications and to their teams' APIs (staff:
    everyone's), with approve, reject and revoke."""

    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Subscription.objects.none()
        subscriptions = selectors.subscriptions_visible_to(signed_in_user(self.request))
        status_filter = self.request.query_params.get("status")
        return subscriptions.filter(status=status_filter) if status_filter else subscriptions

    def perform_create(self, serializer) -> None:
        serializer.instance = services.subscription_create(
            **serializer.validated_data, actor=signed_in_user(self.request)
        )

    @extend_schema(request=None, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Let a pending subscription through (staff, the API's team)."""
        return self._decide(services.subscription_approve)

    @extend_schema(request=None, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Turn a pending subscription down (staff, the API's team)."""
        return self._decide(services.subscription_reject)

    @extend_schema(request=None, responses=SubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        """End a live subscription (its team, the API's team or staff)."""
        return self._decide(services.subscription_revoke)

    def _decide(self, service) -> Response:
        subscription = service(subscription=self.get_object(), actor=signed_in_user(self.request))
        return Response(self.get_serializer(subscription).data)
