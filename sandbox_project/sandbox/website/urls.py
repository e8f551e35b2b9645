from django.urls import path

from sandbox.website.views import favicon, mailbox, signup_form

urlpatterns = [
    path("signup/form/", signup_form, name="signup-form"),
    path("mailbox/", mailbox, name="mailbox"),
    path("favicon.ico", favicon, name="favicon"),
]
