"""The sandbox's "expensive query", and the cache-aside version of it."""

import time

from django.conf import settings
from django.core.cache import cache

from catalog.caching import get_or_compute
from catalog.models import Product

SUMMARY_KEY = "catalog:summary"
SUMMARY_TIMEOUT = 300  # seconds; signals delete the key sooner when a product changes


def product_summary() -> dict:
    """A slow aggregate, standing in for a heavy database query."""
    time.sleep(settings.SANDBOX_SLOW_QUERY_DELAY)
    products = list(Product.objects.values("name", "price"))
    return {
        "count": len(products),
        "names": [product["name"] for product in products],
        "total": str(sum(product["price"] for product in products)),
    }


def cached_product_summary() -> dict:
    """The summary through the site's cache (cache-aside); signals.py forgets it on a change."""
    return get_or_compute(cache, SUMMARY_KEY, product_summary, SUMMARY_TIMEOUT)
