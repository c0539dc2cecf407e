"""Developer portal pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from apis.selectors import apis_search, apis_visible_to


def catalog(request: HttpRequest) -> HttpResponse:
    """The catalog of published and deprecated APIs, searchable."""
    apis = apis_search(
        apis_visible_to(request.user),
        q=request.GET.get("q", ""),
        tag=request.GET.get("tag", ""),
        state=request.GET.get("state", ""),
    )
    return render(request, "portal/catalog.html", {"apis": apis, "q": request.GET.get("q", "")})


def api_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One API: description, state and plans."""
    api = get_object_or_404(apis_visible_to(request.user), slug=slug)
    return render(request, "portal/api_detail.html", {"api": api})
