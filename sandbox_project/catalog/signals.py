"""Invalidate the cached summary whenever a product changes."""

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Product
from catalog.queries import SUMMARY_KEY


@receiver([post_save, post_delete], sender=Product)
def forget_product_summary(**kwargs):
    cache.delete(SUMMARY_KEY)
