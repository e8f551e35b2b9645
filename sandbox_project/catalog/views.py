from django.shortcuts import render

from catalog.queries import cached_product_summary, product_summary


def product_list(request):
    """The slow page: runs the expensive query on every request."""
    return render(request, "catalog/product_list.html", {"summary": product_summary()})


def product_list_cached(request):
    """The same page with the query result cached (cache-aside, invalidated by signals)."""
    return render(request, "catalog/product_list.html", {"summary": cached_product_summary()})
