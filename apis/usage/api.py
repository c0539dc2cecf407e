"""`GET /api/v1/usage/`: hourly or daily usage per API and application."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import cast

from django.contrib.auth.models import User
from django.db.models import F
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from apis.models import Api
from apis.usage import selectors
from apis.usage.models import UsageRollup
from core.serializers import StrictFieldsMixin
from core.users import signed_in_user
from keys.models import Application


class UsageQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    """The query parameters; unknown ones are refused by name."""

    json_types = False

    api = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Api.objects.none(),
        required=False,
        error_messages={"does_not_exist": "No API with this slug."},
    )
    application = serializers.PrimaryKeyRelatedField(
        queryset=Application.objects.none(), required=False
    )
    granularity = serializers.ChoiceField(
        choices=UsageRollup.Granularity.choices, default=UsageRollup.Granularity.HOUR
    )
    since = serializers.CharField(required=False, max_length=40)
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only what the user may read can be named: anything else is "does not exist".
        cast(serializers.RelatedField, self.fields["api"]).queryset = selectors.usage_apis(
            user=user
        )
        applications = selectors.usage_applications(user=user)
        cast(serializers.RelatedField, self.fields["application"]).queryset = applications

    def validate_since(self, value: str) -> datetime:
        """An ISO 8601 date or date-time; naive values are UTC."""
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as error:
            raise serializers.ValidationError(
                "Enter an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T12:00:00Z."
            ) from error
        if len(value) <= 10:
            parsed = datetime.combine(parsed.date(), time.min)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class UsageRowSerializer(serializers.ModelSerializer):
    api = serializers.CharField(source="api_slug", read_only=True)

    class Meta:
        model = UsageRollup
        fields = [
            "period_start",
            "api",
            "application",
            "requests",
            "errors",
            "prompt_tokens",
            "completion_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
            "estimated_tokens",
            "cost",
            "p50_ms",
            "p95_ms",
            "bytes_in",
            "bytes_out",
        ]


@extend_schema(
    parameters=[
        OpenApiParameter(
            "api", {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}, description="API slug"
        ),
        OpenApiParameter("application", {"type": "integer", "minimum": 1}, description="id"),
        OpenApiParameter("granularity", str, enum=["hour", "day"]),
        OpenApiParameter(
            "since",
            {
                "anyOf": [
                    {"type": "string", "format": "date"},
                    {"type": "string", "format": "date-time"},
                ]
            },
            description="ISO 8601 date or date-time; naive values are UTC",
        ),
    ]
)
class UsageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Usage rollups, newest first: a developer sees their own applications, staff all."""

    serializer_class = UsageRowSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        user = signed_in_user(self.request)
        query = UsageQuerySerializer(data=self.request.query_params.dict(), user=user)
        query.is_valid(raise_exception=True)
        params = {k: v for k, v in query.validated_data.items() if k not in ("limit", "offset")}
        rows = selectors.usage_rows(user=user, **params)
        # A row names its API by slug and its application by id: of the API only the slug is
        # read, in the join the order needs anyway, not a whole API per row; the histograms
        # stay in the database (each row's p50 and p95 are read from them there).
        columns = [name for name in UsageRowSerializer.Meta.fields if name != "api"]
        return rows.select_related(None).only(*columns).annotate(api_slug=F("api__slug"))
