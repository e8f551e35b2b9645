import datetime

from django.contrib.auth.models import User
from django.core.cache import caches
from django.utils import timezone

from catalog.models import Product
from reports.models import DailyReport

# How long a day's guard key lives: past that day, so a late duplicate still finds it.
DAILY_GUARD_SECONDS = 2 * 24 * 3600


def build_daily_report(date: datetime.date | None = None) -> tuple[DailyReport, bool]:
    """Create the report for `date` (today by default) unless it exists: idempotent per date."""
    date = date or timezone.localdate()
    return DailyReport.objects.get_or_create(
        date=date,
        defaults={"user_count": User.objects.count(), "product_count": Product.objects.count()},
    )


def daily_guard_key(date: datetime.date) -> str:
    return f"daily-task:{date.isoformat()}"


def claim_daily_run(date: datetime.date) -> bool:
    """True for the first run of the day only: an atomic Redis SET NX, shared by all workers."""
    return caches["redis"].add(daily_guard_key(date), "claimed", DAILY_GUARD_SECONDS)


def release_daily_run(date: datetime.date) -> None:
    """Give the day back (its run failed), so a retry or the next beat run can do the work."""
    caches["redis"].delete(daily_guard_key(date))
