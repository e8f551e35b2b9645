from celery import shared_task

from accounts.welcome import send_welcome


@shared_task
def send_welcome_email(user_email):
    """The source's task, sending a real email through Django's email backend."""
    print(f"Sending welcome email to {user_email}")
    return send_welcome(user_email)
