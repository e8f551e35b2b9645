import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from catalog.models import Product
from reports.models import DailyReport


def build_daily_report(date: datetime.date | None = None) -> tuple[DailyReport, bool]:
    """Create the report for `date` (today by default) unless it exists: idempotent per date."""
    date = date or timezone.localdate()
    return DailyReport.objects.get_or_create(
        date=date,
        defaults={"user_count": User.objects.count(), "product_count": Product.objects.count()},
    )
