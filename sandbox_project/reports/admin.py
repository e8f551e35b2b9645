from django.contrib import admin

from reports.models import DailyReport

admin.site.register(DailyReport)
