"""Admin of the AI area: providers with their models and write-only keys, versioned prompts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from apis.ai import services
from apis.ai.models import PromptEndpoint, PromptVersion, Provider, ProviderModel
from core.form_fields import https_form_field
from core.users import signed_in_user


class ProviderForm(forms.ModelForm):
    """The API key is typed in, never shown; left empty it keeps the stored key."""

    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again; leave empty to keep the current key.",
    )

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url"]
        formfield_callback = https_form_field


class ProviderModelInline(admin.TabularInline):
    model = ProviderModel
    extra = 1
    fields = ["name", "input_cost_per_mtok", "output_cost_per_mtok"]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "has_api_key"]
    list_filter = ["kind"]
    search_fields = ["name", "base_url"]
    inlines = [ProviderModelInline]

    @admin.display(boolean=True, description="API key set")
    def has_api_key(self, provider: Provider) -> bool:
        return provider.has_api_key

    def save_model(
        self, request: HttpRequest, obj: Provider, form: ProviderForm, change: bool
    ) -> None:
        services.provider_save(
            provider=obj,
            name=obj.name,
            kind=obj.kind,
            base_url=obj.base_url,
            api_key=form.cleaned_data.get("api_key") or None,
        )


class PromptVersionInline(admin.TabularInline):
    """Every earlier state of the prompt, newest first, read-only."""

    model = PromptVersion
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "version",
        "created_at",
        "author",
        "model",
        "output",
        "system",
        "template",
        "variables",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PromptEndpoint)
class PromptEndpointAdmin(admin.ModelAdmin):
    list_display = ["api", "model", "output", "version", "updated_at"]
    search_fields = ["api__slug", "model", "template"]
    readonly_fields = ["version", "updated_at"]
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
    inlines = [PromptVersionInline]

    def save_model(
        self, request: HttpRequest, obj: PromptEndpoint, form: forms.ModelForm, change: bool
    ) -> None:
        # The same service as the REST API, so that admin edits are versioned too.
        data = {
            name: form.cleaned_data.get(name, getattr(obj, name)) for name in services.PROMPT_FIELDS
        }
        saved = services.prompt_save(
            api=form.cleaned_data["api"], actor=signed_in_user(request), **data
        )
        obj.pk, obj.version = saved.pk, saved.version
