from django.contrib import admin
from django.urls import path

from accounts.views import signup
from catalog.views import product_list, product_list_cached

urlpatterns = [
    path("admin/", admin.site.urls),
    path("products/", product_list, name="product-list"),
    path("products/cached/", product_list_cached, name="product-list-cached"),
    path("signup/", signup, name="signup"),
]
