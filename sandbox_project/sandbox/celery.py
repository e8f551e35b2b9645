"""The Celery app, as in the source's recipe (without its `from **future**` line:
a Markdown accident for `__future__`, and needless on Python 3)."""

import os

from celery import Celery

# Tell Celery where the Django settings are, before anything reads them.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sandbox.settings")

app = Celery("sandbox")

# Read every Django setting that starts with CELERY_ (CELERY_BROKER_URL → broker_url, ...).
app.config_from_object("django.conf:settings", namespace="CELERY")

# Find tasks.py in every installed app.
app.autodiscover_tasks()
