from celery import shared_task

from accounts.outbox import relay
from accounts.welcome import send_welcome


@shared_task
def send_welcome_email(user_email):
    """The source's task, sending a real email through Django's email backend."""
    print(f"Sending welcome email to {user_email}")
    return send_welcome(user_email)


@shared_task(name="outbox.relay")  # named for what it serves, not for the module it lives in
def relay_outbox() -> int:
    """Send what a broker outage or a lost on-commit hook left in the outbox (`accounts.outbox`).
    Beat runs it every few seconds: the entry is `BEAT_SCHEDULES["outbox-sweep"]` in the settings."""
    return relay()
