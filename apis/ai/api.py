"""The management REST API of the AI area: /api/v1/providers/ and /api/v1/prompts/."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from jsonschema.exceptions import SchemaError
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from apis.ai import prompts, services
from apis.ai.models import PromptEndpoint, PromptVersion, Provider
from apis.models import Api
from apis.permissions import RunsCatalog
from core.serializers import StrictFieldsMixin
from core.users import signed_in_user


def price_field() -> serializers.DecimalField:
    """A price per million tokens: optional, never negative."""
    return serializers.DecimalField(
        max_digits=12,
        decimal_places=6,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        default=None,
    )


class ProviderModelSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    input_cost_per_mtok = price_field()
    output_cost_per_mtok = price_field()


class ProviderSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=4000, trim_whitespace=True
    )
    # With many=True DRF hands max_length to the ListSerializer; the stubs do not list it.
    models = ProviderModelSerializer(many=True, required=False, max_length=200)  # type: ignore[call-arg]

    class Meta:
        model = Provider
        fields = [
            "id",
            "name",
            "kind",
            "base_url",
            "api_key",
            "has_api_key",
            "models",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_api_key", "created_at", "updated_at"]

    def validate_models(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        names = [model["name"] for model in value]
        if len(names) != len(set(names)):
            raise serializers.ValidationError("Each model name may appear once.")
        return value

    def to_representation(self, instance: Provider) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["models"] = ProviderModelSerializer(instance.models.all(), many=True).data
        return data


class ProviderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """AI providers (staff): the API key is write-only and stored encrypted."""

    serializer_class = ProviderSerializer
    permission_classes = [IsAuthenticated, RunsCatalog]
    queryset = Provider.objects.prefetch_related("models")
    lookup_field = "name"

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = services.provider_save(**serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        # An update's serializer is always bound to the object being updated.
        provider = cast(Provider, serializer.instance)
        fields = {"name": provider.name, "kind": provider.kind, "base_url": provider.base_url}
        serializer.instance = services.provider_save(
            provider=provider, **{**fields, **serializer.validated_data}
        )


class PromptSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    api = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Api.objects.filter(kind=Api.Kind.PROMPT),
        error_messages={"does_not_exist": "No prompt-kind API with this slug."},
    )
    variables = serializers.JSONField(required=False, default=dict)
    output_schema = serializers.JSONField(required=False, allow_null=True, default=None)

    class Meta:
        model = PromptEndpoint
        fields = [
            "api",
            "model",
            "system",
            "template",
            "variables",
            "output",
            "output_schema",
            "version",
            "updated_at",
        ]
        read_only_fields = ["version", "updated_at"]

    def validate_model(self, value: str) -> str:
        provider, _, model = value.partition("/")
        if not provider or not model:
            raise serializers.ValidationError("Name the model as '<provider>/<model>'.")
        return value

    def validate_variables(self, value: Any) -> dict[str, Any]:
        return _schema(value)

    def validate_output_schema(self, value: Any) -> dict[str, Any] | None:
        return None if value is None else _schema(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        template = attrs.get("template", getattr(self.instance, "template", ""))
        variables = attrs.get("variables", getattr(self.instance, "variables", {})) or {}
        declared = variables.get("properties")
        unknown = [
            name
            for name in prompts.placeholders(template)
            if declared is not None and name not in declared
        ]
        if unknown:
            raise serializers.ValidationError(
                {"template": f"Placeholders not in the variables' schema: {', '.join(unknown)}."}
            )
        return attrs


def _schema(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise serializers.ValidationError("A JSON Schema is a JSON object.")
    try:
        prompts.check_schema(value)
    except SchemaError as exc:
        raise serializers.ValidationError(f"Not a valid JSON Schema: {exc.message}") from exc
    return value


class PromptVersionSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = PromptVersion
        fields = [
            "version",
            "model",
            "system",
            "template",
            "variables",
            "output",
            "output_schema",
            "author",
            "created_at",
        ]

    def get_author(self, version: PromptVersion) -> str | None:
        return version.author.get_username() if version.author else None


class PromptViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Prompt endpoints (staff), by their API's slug; every change is a new version."""

    serializer_class = PromptSerializer
    permission_classes = [IsAuthenticated, RunsCatalog]
    queryset = PromptEndpoint.objects.select_related("api")
    lookup_field = "api__slug"
    lookup_url_kwarg = "slug"

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        data = dict(serializer.validated_data)
        if PromptEndpoint.objects.filter(api=data["api"]).exists():
            raise serializers.ValidationError(
                {"api": "This API has a prompt already; PATCH it instead."}
            )
        serializer.instance = services.prompt_save(
            api=data.pop("api"), actor=signed_in_user(self.request), **data
        )

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        prompt = cast(PromptEndpoint, serializer.instance)
        data = {name: getattr(prompt, name) for name in services.PROMPT_FIELDS}
        data.update({k: v for k, v in serializer.validated_data.items() if k != "api"})
        serializer.instance = services.prompt_save(
            api=prompt.api, actor=signed_in_user(self.request), **data
        )

    @extend_schema(responses=PromptVersionSerializer(many=True))
    # Every version, answered whole, not in pages.
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, slug: str) -> Response:
        history = self.get_object().versions.select_related("author")
        return Response(PromptVersionSerializer(history, many=True).data)
