from django.core.mail import send_mail

WELCOME_SUBJECT = "Welcome to the sandbox"


def send_welcome(user_email: str) -> int:
    """Send the welcome email; returns how many messages went out (0 or 1)."""
    return send_mail(
        WELCOME_SUBJECT,
        f"Hello {user_email}, thanks for signing up.",
        None,  # DEFAULT_FROM_EMAIL
        [user_email],
    )
