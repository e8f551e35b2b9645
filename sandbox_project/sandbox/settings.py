"""Settings of the course's sandbox project.

Every service location comes from the environment, with loopback defaults (the
cookiecutter-django way). `make` writes a git-ignored `.env` with a generated secret key
and Redis password; nothing secret is committed.
"""

import os
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from sandbox.env import (
    DEFAULT_HOST,
    DEFAULT_MEMCACHED_PORT,
    DEFAULT_REDIS_PORT,
    MEMCACHED_SOCKET_NAME,
    REDIS_SOCKET_NAME,
    VAR_DIR,
    celery_socket_url,
    load_env_file,
    memcached_location,
    redis_socket_url,
    redis_url,
    socket_dir,
    uses_tcp,
)

load_env_file()

BASE_DIR = Path(__file__).resolve().parent.parent
# A notebook or the test suite gets its own namespace: its own database, cache prefix and mailbox.
NAMESPACE = os.environ.get("SANDBOX_NAMESPACE", "lab")


def required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(
            f"{name} is not set. Run `make setup` (it writes a .env with a generated value)."
        )
    return value


SECRET_KEY = required_env("DJANGO_SECRET_KEY")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
# The debug page must not show the Redis password that the broker and cache URLs carry.
DEFAULT_EXCEPTION_REPORTER_FILTER = "sandbox.debug.SecretUrlsExceptionReporterFilter"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "catalog",
    "accounts",
    "reports",
    "demos",  # tasks for notebook 03
    "faults",  # tasks for notebook 05
    "scaling",  # tasks for notebook 06
    "sandbox.website",  # the signup form and mailbox pages for trying the sandbox in a browser
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# Served as a website (`make sandbox`, the browser tests): response time and cache hit/miss shown.
if os.environ.get("SANDBOX_WEBSITE") == "1":
    MIDDLEWARE.insert(0, "sandbox.website.middleware.ResponseTimeMiddleware")

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db" / f"{NAMESPACE}.sqlite3",
        # The kernel, workers and beat all write here: take the write lock up front and wait
        # for it, instead of failing with "database is locked".
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
# Django's time zone (notebook 04 starts a beat with SANDBOX_TIME_ZONE=Europe/Moscow).
TIME_ZONE = os.environ.get("SANDBOX_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# --- Services: unix sockets in var/run/ by default, loopback TCP when asked (sandbox/env.py) ---
# A socket in a directory only you may enter keeps other users of a shared machine out; any local
# user can connect to 127.0.0.1. The source's host:port form is what LAB_TCP=1 (or docker) gives.
SERVICES_OVER_TCP = uses_tcp()
REDIS_HOST = os.environ.get("REDIS_HOST", DEFAULT_HOST)
REDIS_PORT = int(os.environ.get("REDIS_PORT", DEFAULT_REDIS_PORT))
REDIS_SOCKET = socket_dir() / REDIS_SOCKET_NAME
REDIS_PASSWORD = required_env("REDIS_PASSWORD")
MEMCACHED_HOST = os.environ.get("MEMCACHED_HOST", DEFAULT_HOST)
MEMCACHED_PORT = int(os.environ.get("MEMCACHED_PORT", DEFAULT_MEMCACHED_PORT))
if SERVICES_OVER_TCP:
    MEMCACHED_LOCATION = memcached_location(host=MEMCACHED_HOST, port=MEMCACHED_PORT)
else:
    MEMCACHED_LOCATION = memcached_location(socket=socket_dir() / MEMCACHED_SOCKET_NAME)


def lab_redis(db: int) -> str:
    """unix://:password@/…/var/run/redis.sock?db=N, or redis://:password@127.0.0.1:6380/N."""
    if SERVICES_OVER_TCP:
        return redis_url(REDIS_PASSWORD, REDIS_HOST, REDIS_PORT, db)
    return redis_socket_url(REDIS_PASSWORD, REDIS_SOCKET, db)


def lab_celery_redis(db: int) -> str:
    """redis+socket://:password@/…/var/run/redis.sock?virtual_host=N, or the redis:// URL."""
    if SERVICES_OVER_TCP:
        return redis_url(REDIS_PASSWORD, REDIS_HOST, REDIS_PORT, db)
    return celery_socket_url(REDIS_PASSWORD, REDIS_SOCKET, db)


# --- Caches: one alias per backend, so they can be compared side by side --------------------
REDIS_CACHE_URL = os.environ.get("REDIS_CACHE_URL", lab_redis(2))

CACHE_ALIASES = {
    "locmem": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": NAMESPACE,
    },
    "file": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": VAR_DIR / "django_cache" / NAMESPACE,  # cqlab.paths.PER_NAMESPACE_DIRS
    },
    # Django's built-in backend (Django 4.0+).
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
    },
    # The third-party django-redis backend, configured exactly as in the source.
    "django_redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    },
    "memcached": {
        "BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
        "LOCATION": MEMCACHED_LOCATION,
    },
}
for alias, config in CACHE_ALIASES.items():
    # Aliases sharing one server must not read each other's keys.
    config["KEY_PREFIX"] = f"{NAMESPACE}.{alias}"

SANDBOX_CACHE = os.environ.get("SANDBOX_CACHE", "django_redis")
if SANDBOX_CACHE not in CACHE_ALIASES:
    raise ImproperlyConfigured(
        f"SANDBOX_CACHE={SANDBOX_CACHE!r} is not a cache alias. Choose one of: {', '.join(CACHE_ALIASES)}."
    )
CACHES = {"default": CACHE_ALIASES[SANDBOX_CACHE], **CACHE_ALIASES}

# --- Email: written to files, so a notebook can open what a task "sent" ---------------------
EMAIL_BACKEND = "accounts.email.SlowFileEmailBackend"
EMAIL_FILE_PATH = VAR_DIR / "emails" / NAMESPACE
DEFAULT_FROM_EMAIL = "welcome@sandbox.example"
# Seconds the simulated SMTP server takes per message (the reason to use a queue).
SANDBOX_SMTP_DELAY = float(os.environ.get("SANDBOX_SMTP_DELAY", "0.5"))

# --- Celery: read by sandbox/celery.py through the CELERY_ namespace -------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", lab_celery_redis(0))
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", lab_celery_redis(1))
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Fail fast instead of hanging when Redis is down (connect timeout) or hung (socket timeout):
# without a socket timeout, .delay() waits forever on a Redis that accepts but never answers.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
# A broker behind Redis Sentinel (notebook 06): CELERY_BROKER_URL lists the sentinels
# (sentinel://:password@host:port;sentinel://...); the transport also needs the name of the
# primary they watch, and the password the sentinels themselves ask for.
if os.environ.get("CELERY_BROKER_SENTINEL_MASTER"):
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "master_name": os.environ["CELERY_BROKER_SENTINEL_MASTER"],
        "sentinel_kwargs": {"password": REDIS_PASSWORD},
    }
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 2
CELERY_REDIS_SOCKET_TIMEOUT = 2

# --- Celery Beat: the source's daily task (notebook 04) ---------------------------------------
# Which midnight crontab(minute=0, hour=0) means: Celery reads crontabs in this zone. Notebook 04
# starts a beat with SANDBOX_NO_CELERY_TIMEZONE=1 to show what happens without this line.
if not os.environ.get("SANDBOX_NO_CELERY_TIMEZONE"):
    CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "daily-task": {
        "task": "reports.tasks.daily_task",
        "schedule": crontab(minute=0, hour=0),  # every day at midnight (CELERY_TIMEZONE)
    },
}
# The scheduler plain `celery -A sandbox beat` uses: Celery's default keeps the schedule in a
# file; notebook 04 sets SANDBOX_BEAT_SCHEDULER=django_celery_beat.schedulers:DatabaseScheduler.
CELERY_BEAT_SCHEDULER = os.environ.get("SANDBOX_BEAT_SCHEDULER", "celery.beat:PersistentScheduler")

# --- The outbox's sweep (notebook 05d) -----------------------------------------------------------
# Every few seconds, relay the outbox rows whose send after COMMIT failed or never ran
# (accounts/outbox.py). A production schedule holds this entry beside the daily task; in the
# course a beat takes it when started with SANDBOX_BEAT_SCHEDULE=outbox-sweep, so that notebook
# 04's beats send the daily task alone.
BEAT_SCHEDULES = {
    "outbox-sweep": {"relay-outbox": {"task": "outbox.relay", "schedule": 5.0}},  # seconds
}
if schedule_name := os.environ.get("SANDBOX_BEAT_SCHEDULE"):
    if schedule_name not in BEAT_SCHEDULES:
        raise ImproperlyConfigured(
            f"SANDBOX_BEAT_SCHEDULE={schedule_name!r} is not a schedule: use one of "
            f"{sorted(BEAT_SCHEDULES)}, or unset it for the daily task"
        )
    CELERY_BEAT_SCHEDULE = BEAT_SCHEDULES[schedule_name]

# Seconds the catalogue's "expensive query" takes (what caching saves).
SANDBOX_SLOW_QUERY_DELAY = float(os.environ.get("SANDBOX_SLOW_QUERY_DELAY", "0.2"))
