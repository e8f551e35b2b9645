"""The sandbox's "expensive query", and the cache-aside version of it."""

import time

from django.conf import settings
from django.core.cache import cache

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
    """Cache-aside: read the cache, on a miss compute and store."""
    summary = cache.get(SUMMARY_KEY)
    if summary is None:
        summary = product_summary()
        cache.set(SUMMARY_KEY, summary, SUMMARY_TIMEOUT)
    return summary
