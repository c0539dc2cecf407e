"""Developer portal pages: catalog, API pages, accounts, applications, subscriptions, usage."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TypedDict

from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails
from django_ratelimit.decorators import ratelimit

from apis.models import Subscription
from apis.openapi_outline import operations
from apis.selectors import (
    api_openapi_for_developers,
    apis_search,
    apis_visible_to,
    subscriptions_of_team,
)
from apis.services import subscription_create, subscription_revoke
from apis.usage.series import WINDOWS
from core.errors import PortcullisError
from core.users import signed_in_user
from keys import services as keys_services
from keys.models import Application
from keys.services import application_create, application_rotate_secret
from lifecycle.states import State
from portal.conf import portal_settings
from portal.current_team import current_membership
from portal.forms import (
    AdminPasswordChangeForm,
    ApplicationForm,
    PasswordChangeForm,
    SignupForm,
    SubscribeForm,
)
from portal.password_guard import password_guarded, posted_username, signed_in_username
from portal.samples import prompt_example, prompt_example_json
from portal.spend_summary import month_spend
from portal.usage_summary import usage_window

View = Callable[..., HttpResponse]


class HtmxRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it: what htmx sent, in `htmx`."""

    htmx: HtmxDetails


class SubscribeOutcome(TypedDict):
    """What a subscribe form came to: the subscription, if any, and what to tell the user."""

    subscription: Subscription | None
    message: str


def rate_limited(setting: str) -> Callable[[View], View]:
    """Answer POSTs over the PORTAL rate `setting` (per client address) with a 429 page."""

    def rate(group: str, request: HttpRequest) -> str:
        return getattr(portal_settings, setting)

    def decorate(view: View) -> View:
        @ratelimit(key="ip", rate=rate, method="POST", block=False)
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if getattr(request, "limited", False):
                response = render(request, "portal/429.html", status=429)
                response["Retry-After"] = "60"
                return response
            return view(request, *args, **kwargs)

        return limited

    return decorate


# Catalog ---------------------------------------------------------------------------------------


@require_GET
def catalog(request: HttpRequest) -> HttpResponse:
    """The catalog of published and deprecated APIs, searchable by text, tag and state."""
    filters = {name: request.GET.get(name, "").strip() for name in ("q", "tag", "state")}
    apis = apis_search(apis_visible_to(request.user), **filters)
    tags = sorted({tag.name for api in apis_visible_to(request.user) for tag in api.tags.all()})
    return render(
        request,
        "portal/catalog.html",
        {"apis": apis, "filters": filters, "tags": tags, "states": _visible_states(request)},
    )


def _visible_states(request: HttpRequest) -> list[tuple[str, str]]:
    if request.user.is_staff:
        return list(State.choices)
    return [(State.PUBLISHED, "Published"), (State.DEPRECATED, "Deprecated")]


@require_GET
def api_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One API: description, versions, state, plans, documentation and samples."""
    api = get_object_or_404(apis_visible_to(request.user), slug=slug)
    versions = apis_visible_to(request.user).filter(name=api.name).exclude(pk=api.pk)
    subscribe = None
    if request.user.is_authenticated and api.accepts_subscriptions:
        subscribe = SubscribeForm(team=current_membership(request).team, api=api)
    return render(
        request,
        "portal/api_detail.html",
        {
            "api": api,
            "versions": versions,
            "operations": operations(api.openapi),
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            "subscribe_form": subscribe,
            "prompt_json": prompt_example_json(api),
            "prompt_python": repr(prompt_example(api)),
        },
    )


@require_GET
def api_openapi(request: HttpRequest, slug: str) -> JsonResponse:
    """The API's OpenAPI document, for the documentation viewer on its page."""
    api = get_object_or_404(apis_visible_to(request.user), slug=slug, openapi__isnull=False)
    gateway_url = request.build_absolute_uri(reverse("gateway", kwargs={"slug": api.slug}))
    document = api_openapi_for_developers(api, gateway_url=gateway_url)
    return JsonResponse(document, json_dumps_params={"indent": 2})


# Accounts --------------------------------------------------------------------------------------


@rate_limited("SIGNUP_RATE")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create a developer account and sign in with it."""
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}. Create an application to start.")
        return redirect("portal:applications")
    return render(request, "registration/signup.html", {"form": form})


login_view = password_guarded(posted_username)(
    auth_views.LoginView.as_view(redirect_authenticated_user=True)
)
logout_view = auth_views.LogoutView.as_view()
password_change = password_guarded(signed_in_username)(
    auth_views.PasswordChangeView.as_view(
        form_class=PasswordChangeForm,
        template_name="portal/password_change.html",
        success_url=reverse_lazy("portal:password-change-done"),
    )
)
password_change_done = auth_views.PasswordChangeDoneView.as_view(
    template_name="portal/password_change_done.html"
)


def _admin_password_change(request: HttpRequest) -> HttpResponseBase:
    """Django admin's password-change page, checking the old password through the guard."""
    request.current_app = admin.site.name
    view = auth_views.PasswordChangeView.as_view(
        form_class=AdminPasswordChangeForm,
        success_url=reverse("admin:password_change_done"),
        extra_context=admin.site.each_context(request),
    )
    return view(request)


admin_login = password_guarded(posted_username)(admin.site.login)
admin_password_change = admin.site.admin_view(
    password_guarded(signed_in_username)(_admin_password_change)
)


# Applications ----------------------------------------------------------------------------------


def _team_application(request: HttpRequest, pk: int) -> Application:
    """One application of the current team; another team's answers 404 like a missing one."""
    return get_object_or_404(Application, pk=pk, team=current_membership(request).team)


def _applications_page(
    request: HttpRequest, form: ApplicationForm, shown=None, status: int = 200
) -> HttpResponse:
    applications = Application.objects.filter(team=current_membership(request).team)
    context = {"applications": applications, "form": form, "shown": shown}
    return render(request, "portal/applications.html", context, status=status)


def _refuse(exc: PortcullisError) -> None:
    """A team role too low for the action is a 403 page, like any other refusal."""
    if exc.status == 403:
        raise PermissionDenied(exc.detail)


@never_cache  # the page may carry a client secret: no copy in any cache
@login_required
@require_http_methods(["GET", "POST"])
def applications(request: HttpRequest) -> HttpResponse:
    """The current team's applications; POST creates one and shows its secret this once."""
    form = ApplicationForm(request.POST or None)
    if request.method != "POST" or not form.is_valid():
        return _applications_page(request, form)
    team = current_membership(request).team
    try:
        application, secret = application_create(
            team=team, name=form.cleaned_data["name"], actor=signed_in_user(request)
        )
    except PortcullisError as exc:
        _refuse(exc)
        form.add_error("name", exc.detail)
        return _applications_page(request, form)
    # Rendered into this response only, never stored: a reload cannot show it again.
    return _applications_page(request, ApplicationForm(), shown=(application, secret))


@never_cache
@login_required
@require_POST
def application_rotate(request: HtmxRequest, pk: int) -> HttpResponse:
    """A new secret for the application, shown once; the old one stops working."""
    application = _team_application(request, pk)
    try:
        secret = application_rotate_secret(application=application, actor=signed_in_user(request))
    except PortcullisError as exc:
        _refuse(exc)
        raise
    if request.htmx:
        context = {"application": application, "secret": secret, "rotated": True}
        return render(request, "portal/partials/secret.html", context)
    return _applications_page(request, ApplicationForm(), shown=(application, secret))


@login_required
@require_POST
def application_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete the application; its subscriptions and credentials go with it."""
    application = _team_application(request, pk)
    name = application.name
    try:
        keys_services.application_delete(application=application, actor=signed_in_user(request))
    except PortcullisError as exc:
        _refuse(exc)
        raise
    messages.success(request, f"Application '{name}' deleted.")
    return redirect("portal:applications")


# Subscriptions ---------------------------------------------------------------------------------


def _team_subscriptions(request: HttpRequest) -> QuerySet[Subscription]:
    return subscriptions_of_team(current_membership(request).team)


@login_required
@require_http_methods(["GET", "POST"])
def subscriptions(request: HtmxRequest) -> HttpResponse:
    """The current team's subscriptions; POST subscribes one of its applications to a plan."""
    form = SubscribeForm(request.POST or None, team=current_membership(request).team)
    if request.method == "POST":
        outcome: SubscribeOutcome = (
            _subscribe(form, signed_in_user(request))
            if form.is_valid()
            else {"subscription": None, "message": ""}
        )
        if request.htmx:
            # 200 even on refusal, so htmx swaps the explanation in where the form was.
            return render(request, "portal/partials/subscribed.html", {"form": form, **outcome})
        if outcome["subscription"] is not None:
            messages.success(request, outcome["message"])
            return redirect("portal:subscriptions")
    context = {"subscriptions": _team_subscriptions(request), "form": form}
    return render(request, "portal/subscriptions.html", context, status=400 if form.errors else 200)


def _subscribe(form: SubscribeForm, actor: User) -> SubscribeOutcome:
    plan = form.cleaned_data["plan"]
    try:
        subscription = subscription_create(
            application=form.cleaned_data["application"], api=plan.api, plan=plan, actor=actor
        )
    except PortcullisError as exc:
        _refuse(exc)
        form.add_error(None, exc.detail)
        return {"subscription": None, "message": exc.detail}
    if subscription.status == Subscription.Status.PENDING:
        message = f"Subscribed to {plan.api.name}: pending until its providers approve it."
    else:
        # Tokens carry the subscriptions of the moment they were issued (their scope).
        message = (
            f"Subscribed to {plan.api.name}: active, you can call it now "
            "with an access token taken from now on."
        )
    return {"subscription": subscription, "message": message}


@login_required
@require_POST
def subscription_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    """End one of the current team's subscriptions."""
    subscription = get_object_or_404(_team_subscriptions(request), pk=pk)
    try:
        subscription_revoke(subscription=subscription, actor=signed_in_user(request))
    except PortcullisError as exc:
        _refuse(exc)
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Subscription to {subscription.api.name} revoked.")
    return redirect("portal:subscriptions")


# Usage -----------------------------------------------------------------------------------------


@login_required
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    """Requests, errors, p95 latency, tokens and cost of the current team's applications."""
    team = current_membership(request).team
    user = signed_in_user(request)
    windows = [usage_window(user=user, team=team, window=window) for window in WINDOWS]
    charts = {window["key"]: window["chart"] for window in windows}
    spend = month_spend(team=current_membership(request).team)
    return render(
        request, "portal/usage.html", {"windows": windows, "charts": charts, "spend": spend}
    )
