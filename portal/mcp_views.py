"""Portal pages of an application's MCP servers: its own upstream credentials, its call audit."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apis.mcp.credentials import CREDENTIAL_MAX_LENGTH, credential_apis_of, upstream_credential_set
from apis.models import Api, ToolCallAudit
from core.errors import Forbidden
from core.users import signed_in_user
from keys.models import Application
from portal.current_team import current_membership

AUDIT_ROWS = 100


class UpstreamCredentialForm(forms.Form):
    """A developer's credential for one MCP server: written here, never shown again."""

    api = forms.SlugField()
    credential = forms.CharField(
        required=False,
        strip=False,
        max_length=CREDENTIAL_MAX_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Empty removes the stored one.",
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def application_mcp(request: HttpRequest, pk: int) -> HttpResponse:
    """The application's upstream credentials (set or unset, never their value) and its audit."""
    application = get_object_or_404(Application, pk=pk, team=current_membership(request).team)
    if request.method == "POST":
        return _store_credential(request, application)
    audit = ToolCallAudit.objects.filter(application=application).select_related("api")
    if request.GET.get("api"):
        audit = audit.filter(api__slug=request.GET["api"])
    context = {
        "application": application,
        "credentials": credential_apis_of(application),
        "audit": audit[:AUDIT_ROWS],
        "form": UpstreamCredentialForm(),
    }
    return render(request, "portal/application_mcp.html", context)


def _store_credential(request: HttpRequest, application: Application) -> HttpResponse:
    form = UpstreamCredentialForm(request.POST)
    wanted = {api.slug: api for api, _ in credential_apis_of(application)}
    if not form.is_valid() or form.cleaned_data["api"] not in wanted:
        messages.error(request, "Choose one of the MCP servers listed and a credential.")
        return redirect("portal:application-mcp", pk=application.pk)
    api: Api = wanted[form.cleaned_data["api"]]
    value = form.cleaned_data["credential"]
    try:
        upstream_credential_set(
            application=application, api=api, value=value, actor=signed_in_user(request)
        )
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from exc
    done = "stored" if value else "removed"
    messages.success(request, f"Credential for '{api.slug}' {done}.")
    return redirect("portal:application-mcp", pk=application.pk)
