"""The API's admin page: its fields grouped by kind, its OpenAPI document, and the page's panels.

Each kind of API names its own sections in KIND_FIELDSETS; a new kind adds one entry there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from django import forms
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apis.conf import catalog_settings
from apis.errors import InvalidOpenApi
from apis.models import Api
from apis.openapi_documents import openapi_fetch, openapi_read
from apis.openapi_outline import operations
from apis.usage.selectors import api_subscribers, api_usage_series
from lifecycle.states import allowed_from

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts
    from django.utils.functional import _StrOrPromise

    Fieldsets: TypeAlias = list[tuple[_StrOrPromise | None, _FieldOpts]]

UPSTREAM_CREDENTIAL = [
    "upstream_header",
    "upstream_credential_stored",
    "upstream_credential",
    "clear_upstream_credential",
]

COMMON_FIELDSETS: Fieldsets = [
    (None, {"fields": ["name", "version", "slug", "kind", "description", "tags", "owner", "team"]}),
]
KIND_FIELDSETS: dict[str, Fieldsets] = {
    Api.Kind.REST: [
        ("REST upstream", {"fields": ["upstream_url", *UPSTREAM_CREDENTIAL]}),
        ("Caching", {"fields": ["cache_ttl", "public_cache"]}),
    ],
    Api.Kind.AI: [
        ("AI model", {"fields": ["model", "fallbacks", "routing", "cooldown"]}),
        ("Answer cache", {"fields": ["cache_ttl", "public_cache"]}),
    ],
    Api.Kind.PROMPT: [
        ("Prompt", {"fields": ["prompt_summary"]}),
        ("Deployments of the prompt's model", {"fields": ["fallbacks", "routing", "cooldown"]}),
        ("Answer cache", {"fields": ["cache_ttl", "public_cache"]}),
    ],
}
TAIL_FIELDSETS: Fieldsets = [
    ("Timeouts of the upstream call", {"fields": ["timeout", "connect_timeout", "total_timeout"]}),
    (
        "OpenAPI document",
        {
            "fields": ["openapi_file", "openapi_url", "openapi_preview"],
            "description": "Upload the document or give its URL (fetched once); it is "
            "validated, then shown to developers on the API's portal page.",
        },
    ),
    ("Access", {"fields": ["require_encrypted_token"]}),
    ("Lifecycle", {"fields": ["state", "sunset", "created_at", "updated_at"]}),
]
READONLY_FIELDS = [
    "upstream_credential_stored",
    "state",
    "sunset",
    "created_at",
    "updated_at",
    "openapi_preview",
    "prompt_summary",
]


def api_fieldsets(kind: str | None) -> Fieldsets:
    """The sections of an API of `kind`; on the add page (no kind yet) every kind's, each
    marked with its kind so the page's script shows only the chosen one."""
    if kind is not None:
        return [*COMMON_FIELDSETS, *KIND_FIELDSETS.get(kind, []), *TAIL_FIELDSETS]
    marked: Fieldsets = []
    for each, fieldsets in KIND_FIELDSETS.items():
        for title, options in fieldsets:
            fields = [name for name in options["fields"] if name not in READONLY_FIELDS]
            if fields:
                classes = ["kind-section", f"kind-{each}"]
                marked.append((title, {**options, "fields": fields, "classes": classes}))
    tail = [(title, o) for title, o in TAIL_FIELDSETS if title != "Lifecycle"]
    return [*COMMON_FIELDSETS, *marked, *tail]


class OpenApiSourceFields(forms.Form):
    """An OpenAPI document from a file or a URL, read and validated into `openapi_document`."""

    openapi_file = forms.FileField(
        required=False,
        label="Upload a document",
        help_text="OpenAPI 3.0 or 3.1, JSON or YAML.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.yaml,.yml"}),
    )
    openapi_url = forms.URLField(
        required=False,
        label="or fetch it from",
        assume_scheme="https",
        help_text="Fetched once, now, by the server.",
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        upload, url = cleaned.get("openapi_file"), cleaned.get("openapi_url") or ""
        if upload and url:
            self.add_error("openapi_url", "Upload a document or give a URL, not both.")
        elif upload or url:
            cleaned["openapi_document"] = self._document(upload, url)
        return cleaned

    def _document(self, upload: Any, url: str) -> dict[str, Any] | None:
        field = "openapi_file" if upload else "openapi_url"
        try:
            raw = upload.read(catalog_settings.OPENAPI_MAX_BYTES + 1) if upload else None
            return openapi_read(raw if raw is not None else openapi_fetch(url))
        except InvalidOpenApi as exc:
            self.add_error(field, f"{exc.detail} (at {exc.extra.get('location', '$')})")
            return None


def openapi_preview(api: Api) -> SafeString:
    """The document's operations as the portal's API page lists them, and a link to it."""
    if not api.openapi:
        return format_html("<p>{}</p>", "No document yet.")
    table = render_to_string(
        "portal/partials/operations.html", {"api": api, "operations": operations(api.openapi)}
    )
    try:
        portal_url = api.get_absolute_url()
    except NoReverseMatch:
        return SafeString(table)
    link = format_html('<p><a href="{}">Open the portal\'s page of this API</a></p>', portal_url)
    return SafeString(table + link)


def prompt_summary(api: Api) -> SafeString:
    """The prompt behind a prompt API, with the link to edit it (versioned on its own page)."""
    prompt = getattr(api, "prompt", None) if api.pk else None
    if prompt is None:
        add = reverse("admin:apis_promptendpoint_add")
        return format_html('<a href="{}?api={}">Write the prompt</a>', add, api.pk or "")
    change = reverse("admin:apis_promptendpoint_change", args=[prompt.pk])
    return format_html(
        '<p>Model <code>{}</code>, version {}.</p><pre class="prompt-template">{}</pre>'
        '<p><a href="{}">Edit the prompt</a></p>',
        prompt.model,
        prompt.version,
        prompt.template[:2000],
        change,
    )


def change_page_context(api: Api) -> dict[str, Any]:
    """What the change page shows beside the form: lifecycle moves, usage, subscribers."""
    return {
        "lifecycle_moves": allowed_from(api.state),
        "usage_series": api_usage_series(api=api),
        "subscribers": list(api_subscribers(api=api)[:200]),
    }
