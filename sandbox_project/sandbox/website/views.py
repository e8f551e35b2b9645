"""Pages for trying the sandbox in a browser: a signup form, and the mailbox the emails land in."""

import email
from email.policy import default

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

# Browsers ask every site for /favicon.ico; without one each page load logs a 404.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#d62728"/></svg>'
)

# Django's file-based email backend writes each message followed by a line of 79 dashes.
MESSAGE_SEPARATOR = "-" * 79


def signup_form(request):
    """A plain HTML form posting to the signup view the notebooks call."""
    return render(request, "website/signup_form.html")


def mailbox(request):
    """Every email in this namespace's mailbox (EMAIL_FILE_PATH), oldest file first."""
    messages = []
    folder = settings.EMAIL_FILE_PATH
    files = sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime) if folder.exists() else []
    for path in files:
        for raw in path.read_text(errors="replace").split(MESSAGE_SEPARATOR):
            if raw.strip():
                message = email.message_from_string(raw.strip(), policy=default)
                body = message.get_body(preferencelist=("plain",))
                text = body.get_content() if body else ""
                messages.append({"to": message["To"], "subject": message["Subject"], "body": text})
    return render(request, "website/mailbox.html", {"messages": messages})


def favicon(request):
    return HttpResponse(FAVICON_SVG, content_type="image/svg+xml")
