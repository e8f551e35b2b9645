from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_page
from django.views.decorators.vary import vary_on_cookie

from catalog.queries import cached_product_summary, product_summary


def product_list(request):
    """The slow page: runs the expensive query on every request."""
    return render(request, "catalog/product_list.html", {"summary": product_summary()})


def product_list_cached(request):
    """The same page with the query result cached (cache-aside, invalidated by signals)."""
    return render(request, "catalog/product_list.html", {"summary": cached_product_summary()})


# --- Notebook 02: per-view and template-fragment caching, and the Vary: Cookie pitfall -------
# The whole response, cached by URL for 60 s. It does not see model changes (no invalidation).
product_list_page_cached = cache_page(60)(product_list)


def product_list_fragment_cached(request):
    """The slow query is evaluated inside a {% cache %} fragment, so a fragment hit skips it."""
    # A callable in the context: the template calls it only when the fragment is rendered.
    return render(request, "catalog/product_list_fragment.html", {"summary": product_summary})


def _hello(request):
    return HttpResponse(f"Hello, {request.user.username or 'anonymous'}!", content_type="text/plain")


# The pitfall: cache_page stores the response before SessionMiddleware adds `Vary: Cookie`,
# so the page is cached per URL only and the first user's greeting is served to everyone.
hello_cached_wrong = cache_page(60)(_hello)
# The fix: vary on the cookie inside the cached view, so each session gets its own entry.
hello_cached = cache_page(60)(vary_on_cookie(_hello))
