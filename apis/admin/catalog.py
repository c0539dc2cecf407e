"""Admin of the catalog: APIs with lifecycle actions, plans, subscriptions and tags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, re_path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from apis.admin import api_pages
from apis.admin.api_pages import OpenApiSourceFields
from apis.admin.fields import https_form_field
from apis.admin.mcp import mcp_fields, plan_form_for, refresh_snapshots
from apis.gateway.circuits import CLOSED, circuits_of
from apis.models import Api, Deployment, Plan, Subscription, Tag, UpstreamTarget
from apis.selectors import apis_managed_by
from apis.services import (
    api_import,
    api_set_openapi,
    api_set_upstream_credential,
    api_transition,
    api_update,
    subscription_approve,
    subscription_reject,
    subscription_revoke,
)
from core.errors import PortcullisError
from core.users import signed_in_user
from lifecycle.admin import LifecycleEventInline
from lifecycle.errors import TransitionNotAllowed
from lifecycle.states import State, allowed_from

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups
    from django_stubs_ext import WithAnnotations

TRANSITION_TEMPLATE = "admin/apis/api/transition_confirmation.html"
SINGLE_TRANSITION_TEMPLATE = "admin/apis/api/transition.html"
IMPORT_TEMPLATE = "admin/apis/api/import.html"
SUBSCRIPTION_DECISIONS: dict[str, Callable[..., Subscription]] = {
    "approve": subscription_approve,
    "reject": subscription_reject,
}


def _safe_next(request: HttpRequest) -> str | None:
    """The `next` address of a form, when it stays on this site."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else None


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


class ProviderTeamScope(admin.ModelAdmin):
    """Staff holding the model's permissions see every row; the owners and admins of a provider
    team (given the staff flag to enter the admin) see and change their team's APIs' rows only.
    """

    api_lookup = "pk"  # the path from a row to its API

    def _managed(self, request: HttpRequest, obj: Any = None) -> bool:
        if isinstance(request.user, AnonymousUser):  # the login page lists the models too
            return False
        managed = apis_managed_by(request.user)
        if obj is None:
            return managed.exists()
        return managed.filter(pk=obj.pk if self.api_lookup == "pk" else obj.api_id).exists()

    def _sees_all(self, request: HttpRequest) -> bool:
        return super().has_view_permission(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        rows = super().get_queryset(request)
        if self._sees_all(request) or not self._managed(request):
            # Without a team's API to manage, the admin's own permission checks refuse (403).
            return rows
        return rows.filter(**{f"{self.api_lookup}__in": apis_managed_by(signed_in_user(request))})

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        found = super().get_object(request, object_id, from_field)
        if found is None:
            # Another team's row answers like a missing one, not with a redirect naming it.
            raise Http404("No such object.")
        return found

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or self._managed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or self._managed(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) or self._managed(request, obj)


class ImportForm(OpenApiSourceFields):
    """The import page: a document, and optionally the API it updates."""

    api = forms.ModelChoiceField(
        queryset=Api.objects.none(),
        required=False,
        label="Update this API",
        help_text="Empty: the API of the document's title and version, or a new one in design.",
    )

    def __init__(self, *args: Any, apis: QuerySet[Api], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["api"]
        assert isinstance(field, forms.ModelChoiceField)  # as declared above
        field.queryset = apis


class PlanInline(admin.TabularInline):
    model = Plan
    fields = [
        "name",
        "rate_limit",
        "monthly_quota",
        "token_quota",
        "monthly_budget",
        "max_output_tokens",
        "requires_approval",
    ]
    extra = 0
    show_change_link = True

    def get_fields(self, request: HttpRequest, obj: Api | None = None) -> _FieldGroups:
        return mcp_fields(super().get_fields(request, obj), obj)

    def get_formset(self, request: HttpRequest, obj: Api | None = None, **kwargs: Any):
        return super().get_formset(request, obj, form=plan_form_for(obj), **kwargs)


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


class DeploymentForm(forms.ModelForm):
    """A deployment; its own API key typed in, never shown, sealed when saved."""

    api_key = forms.CharField(
        required=False,
        max_length=4096,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Its own key (else its provider's). Never shown again; leave empty to keep "
        "the stored one.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove its key")

    class Meta:
        model = Deployment
        fields = ["name", "provider", "model", "weight", "rpm", "tpm"]

    def save(self, commit: bool = True) -> Deployment:
        deployment = super().save(commit=False)
        key = self.cleaned_data.get("api_key") or ""
        if key or self.cleaned_data.get("clear_api_key"):
            deployment.set_api_key(key)
        if commit:
            deployment.save()
        return deployment


class DeploymentInline(admin.TabularInline):
    model = Deployment
    form = DeploymentForm
    fields = [
        "name",
        "provider",
        "model",
        "weight",
        "rpm",
        "tpm",
        "key_stored",
        "api_key",
        "clear_api_key",
    ]
    readonly_fields = ["key_stored"]
    extra = 0

    @admin.display(description="Own key", boolean=True)
    def key_stored(self, deployment: Deployment) -> bool:
        return deployment.has_api_key


class ApiForm(OpenApiSourceFields, forms.ModelForm):
    """The API's fields, its upstream credential (write-only, sealed when saved) and its
    OpenAPI document (uploaded or fetched, validated)."""

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
class ApiAdmin(ProviderTeamScope):
    form = ApiForm
    list_display = ["name", "version", "slug", "kind", "state", "sunset", "updated_at"]
    list_filter = ["state", "kind", "tags"]
    search_fields = ["slug", "name", "description"]
    readonly_fields = api_pages.READONLY_FIELDS
    filter_horizontal = ["tags"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    raw_id_fields = ["owner"]
    inlines = [UpstreamTargetInline, PlanInline, DeploymentInline, LifecycleEventInline]
    actions = ["publish", "deprecate", "retire", refresh_snapshots]

    class Media:
        css = {"all": ["console/console.css"]}
        js = ["console/api_form.js"]

    def get_fieldsets(self, request: HttpRequest, obj: Api | None = None) -> api_pages.Fieldsets:
        return api_pages.api_fieldsets(obj.kind if obj is not None else None)

    def get_inlines(self, request: HttpRequest, obj: Api | None = None) -> list:
        # Deployments serve the model of an `ai` API, or a prompt API's.
        if obj is not None and obj.kind in (Api.Kind.AI, Api.Kind.PROMPT):
            return self.inlines
        return [inline for inline in self.inlines if inline is not DeploymentInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Api | None = None) -> list[str]:
        # An API keeps its kind: its plans, subscriptions and clients were made for it.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("kind")
        # Which team manages an API, and who made it, is for staff to set.
        return fields if self._sees_all(request) else [*fields, "team", "owner"]

    @admin.display(description="Upstream credential stored", boolean=True)
    def upstream_credential_stored(self, api: Api) -> bool:
        return bool(api.upstream_secret)

    @admin.display(description="As developers see it")
    def openapi_preview(self, api: Api) -> str:
        return api_pages.openapi_preview(api)

    @admin.display(description="Prompt")
    def prompt_summary(self, api: Api) -> str:
        return api_pages.prompt_summary(api)

    def save_model(self, request: HttpRequest, obj: Api, form: Any, change: bool) -> None:
        if not change and obj.owner_id is None:
            obj.owner = signed_in_user(request)
        # The form has set the fields; the service validates and saves, as for the REST API.
        api_update(api=obj)
        credential = form.cleaned_data.get("upstream_credential")
        if credential or form.cleaned_data.get("clear_upstream_credential"):
            api_set_upstream_credential(api=obj, header=obj.upstream_header, value=credential)
        document = form.cleaned_data.get("openapi_document")
        if document is not None:
            api_set_openapi(api=obj, document=document, actor=signed_in_user(request))

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="apis_api_import",
            ),
            path(
                "<int:pk>/transition/<str:to>/",
                self.admin_site.admin_view(self.transition_view),
                name="apis_api_transition",
            ),
        ]
        return [*own, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        api = self.get_object(request, object_id)
        context = api_pages.change_page_context(api) if api is not None else {}
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def transition_view(self, request: HttpRequest, pk: int, to: str) -> HttpResponse:
        """One API's move from its change page: asks for the note (and sunset), then moves."""
        api = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, api):
            raise PermissionDenied
        change_url = reverse("admin:apis_api_change", args=[api.pk])
        if to not in allowed_from(api.state):
            allowed = ", ".join(allowed_from(api.state)) or "none (terminal state)"
            self.message_user(
                request,
                f"{api.slug} cannot move from '{api.state}' to '{to}'. Allowed: {allowed}.",
                messages.ERROR,
            )
            return redirect(change_url)
        form = TransitionForm(request.POST if request.method == "POST" else None, to=to)
        if form.is_valid():
            self._apply_transition(
                request, Api.objects.filter(pk=api.pk), to=to, **form.cleaned_data
            )
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Move {api} to {to}?",
            "opts": self.model._meta,
            "api": api,
            "original": api,
            "form": form,
            "to": to,
        }
        return TemplateResponse(request, SINGLE_TRANSITION_TEMPLATE, context)

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Create or update an API from an OpenAPI document, as POST /api/v1/apis/import/ does."""
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = ImportForm(
            request.POST if posted else None,
            request.FILES if posted else None,
            apis=self.get_queryset(request),
        )
        if form.is_valid():
            api = self._import(request, form)
            if api is not None:
                return redirect(reverse("admin:apis_api_change", args=[api.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import an API from its OpenAPI document",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, IMPORT_TEMPLATE, context)

    def _import(self, request: HttpRequest, form: ImportForm) -> Api | None:
        """The API created or updated from the form's document; None with the form's errors."""
        document = form.cleaned_data.get("openapi_document")
        if document is None:
            form.add_error("openapi_file", "Upload a document or give its URL.")
            return None
        try:
            api, created = api_import(
                document=document, actor=signed_in_user(request), api=form.cleaned_data["api"]
            )
        except (PortcullisError, ValidationError) as exc:
            form.add_error(
                None, getattr(exc, "detail", "") or "; ".join(getattr(exc, "messages", [str(exc)]))
            )
            return None
        verb = "Created" if created else "Updated"
        self.message_user(request, f"{verb} {api.slug} from its OpenAPI document.")
        return api

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
        actor = signed_in_user(request)
        for api in queryset.order_by("slug"):
            try:
                api_transition(api=api, to=to, actor=actor, note=note, sunset=sunset)
            except PortcullisError as exc:
                self.message_user(request, _transition_failure(api, exc), messages.ERROR)
            else:
                moved.append(api.slug)
        if moved:
            self.message_user(request, f"Now {to}: {', '.join(moved)}.", messages.SUCCESS)


@admin.register(Plan)
class PlanAdmin(ProviderTeamScope):
    api_lookup = "api"

    list_display = [
        "name",
        "api",
        "rate_limit",
        "monthly_quota",
        "token_quota",
        "monthly_budget",
        "requires_approval",
    ]
    list_filter = ["requires_approval", "api"]
    search_fields = ["name", "api__slug", "api__name"]
    list_select_related = ["api"]
    autocomplete_fields = ["api"]

    def get_fields(self, request: HttpRequest, obj: Plan | None = None) -> _FieldGroups:
        return mcp_fields(super().get_fields(request, obj), obj.api if obj else None)

    def get_form(
        self, request: HttpRequest, obj: Plan | None = None, change: bool = False, **kwargs: Any
    ):
        return super().get_form(
            request, obj, change, form=plan_form_for(obj.api if obj else None), **kwargs
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) or self._managed(request)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "api" and not self._sees_all(request):
            kwargs["queryset"] = apis_managed_by(signed_in_user(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Subscription)
class SubscriptionAdmin(ProviderTeamScope):
    api_lookup = "api"

    list_display = ["id", "application", "team", "api", "plan", "status", "created_at"]
    list_filter = ["status", "api", "plan"]
    search_fields = ["application__name", "application__team__name", "api__slug"]
    list_select_related = ["application__team", "api", "plan"]
    readonly_fields = (
        "application",
        "api",
        "plan",
        "status",
        "decided_by",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields
    actions = ["approve", "reject", "revoke"]

    # Subscriptions start in the developer's flow (plan checks, approval) and end by status,
    # so the admin neither adds nor deletes them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Subscription | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        decide = re_path(
            r"^(?P<pk>\d+)/(?P<decision>approve|reject)/$",
            self.admin_site.admin_view(self.decide_view),
            name="apis_subscription_decide",
        )
        return [decide, *super().get_urls()]

    def decide_view(self, request: HttpRequest, pk: str, decision: str) -> HttpResponse:
        """Approve or reject one subscription (the dashboard's buttons), then go back."""
        service = SUBSCRIPTION_DECISIONS[decision]
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        subscription = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, subscription):
            raise PermissionDenied
        self._decide(request, Subscription.objects.filter(pk=pk), service, done=f"{decision}d")
        return redirect(_safe_next(request) or "admin:index")

    @admin.display(description="team", ordering="application__team__name")
    def team(self, subscription: Subscription) -> str:
        return subscription.application.team.name

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
        actor = signed_in_user(request)
        for subscription in queryset.select_related("application", "api").order_by("pk"):
            try:
                decide(subscription=subscription, actor=actor)
            except PortcullisError as exc:
                where = f"{subscription.application} → {subscription.api.slug}"
                self.message_user(request, f"{where}: {exc.detail}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} subscription(s) {done}.", messages.SUCCESS)


class TagCounts(TypedDict):
    """What TagAdmin's rows are annotated with."""

    api_count: int


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "api_count"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).annotate(api_count=Count("apis"))

    @admin.display(description="APIs", ordering="api_count")
    def api_count(self, tag: WithAnnotations[Tag, TagCounts]) -> int:
        return tag.api_count
