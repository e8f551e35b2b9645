from django.contrib.auth.models import User
from django.core.validators import validate_email
from django.db import transaction
from django.forms import ValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.outbox import enqueue
from accounts.tasks import send_welcome_email
from accounts.welcome import send_welcome


def new_email_or_error(request) -> tuple[str, JsonResponse | None]:
    """The posted email, normalised, or the answer for a bad or taken one."""
    email = request.POST.get("email", "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return email, JsonResponse({"error": "a valid email is required"}, status=400)
    if User.objects.filter(username=email).exists():
        return email, JsonResponse({"error": "this email has already signed up"}, status=409)
    return email, None


@csrf_exempt  # a JSON-ish API for the notebooks; no browser session involved
@require_POST
def signup(request):
    """Create a user and welcome them: inline (?inline=1) or through the Celery queue."""
    email, error = new_email_or_error(request)
    if error:
        return error
    inline = request.GET.get("inline") == "1"
    with transaction.atomic():
        User.objects.create_user(username=email, email=email)
        if inline:
            send_welcome(email)
        else:
            # The message is a row of this transaction (the outbox), sent to the broker after
            # COMMIT; if the broker is down then, it is sent when it is back (notebook 05d).
            enqueue(send_welcome_email, email)
    return JsonResponse({"email": email, "welcome": "sent" if inline else "queued"}, status=201)


@csrf_exempt
@require_POST
def signup_without_outbox(request):
    """The signup as it was before the outbox: the message is sent after COMMIT, or never."""
    email, error = new_email_or_error(request)
    if error:
        return error
    with transaction.atomic():
        User.objects.create_user(username=email, email=email)
        # Sent once the user row is committed; if the broker is down then, this raises after
        # COMMIT: the user exists, the welcome email is lost (notebook 05d, section 4).
        send_welcome_email.delay_on_commit(email)
    return JsonResponse({"email": email, "welcome": "queued"}, status=201)
