"""Admin of the catalog: APIs with lifecycle actions, plans, subscriptions and tags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from apis.admin.fields import https_form_field
from apis.gateway.circuits import CLOSED, circuits_of
from apis.models import Api, Plan, Subscription, Tag, UpstreamTarget
from apis.services import (
    api_set_upstream_credential,
    api_transition,
    subscription_approve,
    subscription_reject,
    subscription_revoke,
)
from core.errors import PortcullisError
from lifecycle.admin import LifecycleEventInline
from lifecycle.errors import TransitionNotAllowed
from lifecycle.states import State, allowed_from

TRANSITION_TEMPLATE = "admin/apis/api/transition_confirmation.html"


class TransitionForm(forms.Form):
    """What the confirmation page asks before a transition: a note and, to deprecate, a sunset."""

    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Why; kept in the lifecycle history.",
    )
    sunset = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="When the API stops answering (UTC); sent in the Sunset header and the "
        "e-mail to subscribers.",
    )

    def __init__(self, *args: Any, to: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if to != State.DEPRECATED:
            del self.fields["sunset"]

    def clean_sunset(self) -> datetime | None:
        sunset = self.cleaned_data["sunset"]
        if sunset is not None and sunset <= timezone.now():
            raise forms.ValidationError("The sunset must lie in the future.")
        return sunset


def _transition_failure(api: Api, exc: PortcullisError) -> str:
    """The admin message for a refused transition, always naming the allowed ones."""
    message = f"{api.slug}: {exc.detail or exc.title}"
    if not isinstance(exc, TransitionNotAllowed):
        allowed = ", ".join(allowed_from(api.state)) or "none (terminal state)"
        message += f" Allowed from '{api.state}': {allowed}."
    return message


class PlanInline(admin.TabularInline):
    model = Plan
    fields = ["name", "rate_limit", "monthly_quota", "token_quota", "requires_approval"]
    extra = 0
    show_change_link = True


class UpstreamTargetInline(admin.TabularInline):
    """A REST API's targets, each with its circuit as every gateway process sees it."""

    model = UpstreamTarget
    fields = ["url", "weight", "circuit"]
    readonly_fields = ["circuit"]
    extra = 0
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="Circuit")
    def circuit(self, target: UpstreamTarget) -> str:
        if target.pk is None:
            return "-"
        circuit = circuits_of([target])[target.pk]
        if circuit.state == CLOSED:
            return f"closed ({circuit.failures} recent failures)"
        state = circuit.state.replace("_", "-")
        return f"{state}: {circuit.reason} (trial in {circuit.reopens_in} s)"


class ApiForm(forms.ModelForm):
    """The API's fields, plus its upstream credential: write-only, sealed when saved."""

    upstream_credential = forms.CharField(
        required=False,
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Sent upstream in the header above. Never shown again; leave empty to keep "
        "the stored one.",
    )
    clear_upstream_credential = forms.BooleanField(
        required=False, label="Remove the stored upstream credential"
    )

    class Meta:
        model = Api
        exclude: list[str] = []
        formfield_callback = https_form_field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("upstream_credential") and not cleaned.get("upstream_header"):
            self.add_error("upstream_header", "Name the header that carries the credential.")
        return cleaned


@admin.register(Api)
class ApiAdmin(admin.ModelAdmin):
    form = ApiForm
    list_display = ["name", "version", "slug", "kind", "state", "sunset", "updated_at"]
    list_filter = ["state", "kind", "tags"]
    search_fields = ["slug", "name", "description"]
    readonly_fields = ["state", "sunset", "upstream_credential_stored", "created_at", "updated_at"]
    filter_horizontal = ["tags"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    raw_id_fields = ["owner"]
    inlines = [UpstreamTargetInline, PlanInline, LifecycleEventInline]
    actions = ["publish", "deprecate", "retire"]

    @admin.display(description="Upstream credential stored", boolean=True)
    def upstream_credential_stored(self, api: Api) -> bool:
        return bool(api.upstream_secret)

    def save_model(self, request: HttpRequest, obj: Api, form: Any, change: bool) -> None:
        if not change and obj.owner_id is None:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
        credential = form.cleaned_data.get("upstream_credential")
        if credential or form.cleaned_data.get("clear_upstream_credential"):
            api_set_upstream_credential(api=obj, header=obj.upstream_header, value=credential)

    @admin.action(description="Publish selected APIs…", permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet[Api]) -> TemplateResponse | None:
        return self._transition(request, queryset, to=State.PUBLISHED, action="publish")

    @admin.action(description="Deprecate selected APIs…", permissions=["change"])
    def deprecate(self, request: HttpRequest, queryset: QuerySet[Api]) -> TemplateResponse | None:
        return self._transition(request, queryset, to=State.DEPRECATED, action="deprecate")

    @admin.action(description="Retire selected APIs…", permissions=["change"])
    def retire(self, request: HttpRequest, queryset: QuerySet[Api]) -> TemplateResponse | None:
        return self._transition(request, queryset, to=State.RETIRED, action="retire")

    def _transition(
        self, request: HttpRequest, queryset: QuerySet[Api], *, to: str, action: str
    ) -> TemplateResponse | None:
        """First call: the confirmation page; its submission: the transitions themselves."""
        confirmed = request.POST.get("confirm") == "yes"
        form = TransitionForm(request.POST if confirmed else None, to=to)
        if confirmed and form.is_valid():
            self._apply_transition(request, queryset, to=to, **form.cleaned_data)
            return None
        apis = list(queryset.order_by("slug"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.capitalize()} {len(apis)} API(s)?",
            "opts": self.model._meta,
            "rows": [(api, allowed_from(api.state), to in allowed_from(api.state)) for api in apis],
            "form": form,
            "to": to,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, TRANSITION_TEMPLATE, context)

    def _apply_transition(
        self,
        request: HttpRequest,
        queryset: QuerySet[Api],
        *,
        to: str,
        note: str,
        sunset: datetime | None = None,
    ) -> None:
        """Each API through the same service as the REST endpoint; refusals become messages."""
        moved = []
        for api in queryset.order_by("slug"):
            try:
                api_transition(api=api, to=to, actor=request.user, note=note, sunset=sunset)
            except PortcullisError as exc:
                self.message_user(request, _transition_failure(api, exc), messages.ERROR)
            else:
                moved.append(api.slug)
        if moved:
            self.message_user(request, f"Now {to}: {', '.join(moved)}.", messages.SUCCESS)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "api",
        "rate_limit",
        "monthly_quota",
        "token_quota",
        "requires_approval",
    ]
    list_filter = ["requires_approval", "api"]
    search_fields = ["name", "api__slug", "api__name"]
    list_select_related = ["api"]
    autocomplete_fields = ["api"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["id", "application", "owner", "api", "plan", "status", "created_at"]
    list_filter = ["status", "api", "plan"]
    search_fields = ["application__name", "application__owner__username", "api__slug"]
    list_select_related = ["application__owner", "api", "plan"]
    readonly_fields = [
        "application",
        "api",
        "plan",
        "status",
        "decided_by",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    actions = ["approve", "reject", "revoke"]

    # Subscriptions start in the developer's flow (plan checks, approval) and end by status,
    # so the admin neither adds nor deletes them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return False

    @admin.display(description="owner", ordering="application__owner__username")
    def owner(self, subscription: Subscription) -> str:
        return subscription.application.owner.get_username()

    @admin.action(description="Approve selected pending subscriptions", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        self._decide(request, queryset, subscription_approve, done="approved")

    @admin.action(description="Reject selected pending subscriptions", permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        self._decide(request, queryset, subscription_reject, done="rejected")

    @admin.action(description="Revoke selected live subscriptions", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> None:
        self._decide(request, queryset, subscription_revoke, done="revoked")

    def _decide(
        self,
        request: HttpRequest,
        queryset: QuerySet[Subscription],
        decide: Callable[..., Subscription],
        *,
        done: str,
    ) -> None:
        """Run the service on each subscription; one error message per one that could not."""
        changed = 0
        for subscription in queryset.select_related("application", "api").order_by("pk"):
            try:
                decide(subscription=subscription, actor=request.user)
            except PortcullisError as exc:
                where = f"{subscription.application} → {subscription.api.slug}"
                self.message_user(request, f"{where}: {exc.detail}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} subscription(s) {done}.", messages.SUCCESS)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "api_count"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(api_count=Count("apis"))

    @admin.display(description="APIs", ordering="api_count")
    def api_count(self, tag: Tag) -> int:
        return tag.api_count
