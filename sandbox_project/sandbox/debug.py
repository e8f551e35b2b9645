"""Django's debug page without the lab's secrets.

With DEBUG = True, a 500 page lists the settings. Django hides those whose names look secret
(KEY, PASS, TOKEN…), but the Redis password also sits inside URLs whose names do not:
CELERY_BROKER_URL, CELERY_RESULT_BACKEND, REDIS_CACHE_URL and each cache's LOCATION. This filter
masks the credentials of any URL-shaped value, whatever the setting is called.
"""

import re

from django.views.debug import SafeExceptionReporterFilter

CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^@/\s]*@", re.IGNORECASE)


class SecretUrlsExceptionReporterFilter(SafeExceptionReporterFilter):
    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            return CREDENTIALS_IN_URL.sub(rf"\g<scheme>{self.cleansed_substitute}@", value)
        return value
