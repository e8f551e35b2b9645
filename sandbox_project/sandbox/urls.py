from django.contrib import admin
from django.urls import include, path

from accounts.views import signup, signup_without_outbox
from catalog.views import (
    hello_cached,
    hello_cached_wrong,
    product_list,
    product_list_cached,
    product_list_fragment_cached,
    product_list_page_cached,
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("products/", product_list, name="product-list"),
    path("products/cached/", product_list_cached, name="product-list-cached"),
    path("signup/", signup, name="signup"),
    path("signup/without-outbox/", signup_without_outbox, name="signup-without-outbox"),
    path("products/page-cached/", product_list_page_cached, name="product-list-page-cached"),
    path("products/fragment-cached/", product_list_fragment_cached, name="product-list-fragment-cached"),
    path("hello/cached-wrong/", hello_cached_wrong, name="hello-cached-wrong"),
    path("hello/cached/", hello_cached, name="hello-cached"),
    path("", include("sandbox.website.urls")),
]
