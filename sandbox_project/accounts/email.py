"""Django's file-based email backend, made as slow as a remote SMTP server."""

import time

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend


class SlowFileEmailBackend(EmailBackend):
    """Writes each message to EMAIL_FILE_PATH after SANDBOX_SMTP_DELAY seconds per message."""

    def send_messages(self, email_messages):
        time.sleep(settings.SANDBOX_SMTP_DELAY * len(email_messages))
        return super().send_messages(email_messages)
