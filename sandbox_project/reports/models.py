from django.db import models


class DailyReport(models.Model):
    """One row per day, built by the daily Celery Beat task."""

    date = models.DateField(unique=True)  # unique: a second run on the same day changes nothing
    user_count = models.PositiveIntegerField()
    product_count = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self):
        return f"Report for {self.date}"
