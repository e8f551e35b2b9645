"""Invalidate the cached summary whenever a product changes."""

from django.core.cache import cache
from django.core.cache.utils import make_template_fragment_key
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Product
from catalog.queries import SUMMARY_KEY


@receiver([post_save, post_delete], sender=Product)
def forget_product_summary(**kwargs):
    cache.delete(SUMMARY_KEY)


# The {% cache 300 product_summary %} fragment of product_list_fragment.html (notebook 02).
PRODUCT_FRAGMENT = "product_summary"


@receiver([post_save, post_delete], sender=Product)
def forget_product_fragment(**kwargs):
    cache.delete(make_template_fragment_key(PRODUCT_FRAGMENT))
