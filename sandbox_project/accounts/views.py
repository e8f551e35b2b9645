from django.contrib.auth.models import User
from django.core.validators import validate_email
from django.db import transaction
from django.forms import ValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.tasks import send_welcome_email
from accounts.welcome import send_welcome


@csrf_exempt  # a JSON-ish API for the notebooks; no browser session involved
@require_POST
def signup(request):
    """Create a user and welcome them: inline (?inline=1) or through the Celery queue."""
    email = request.POST.get("email", "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        return JsonResponse({"error": "a valid email is required"}, status=400)
    if User.objects.filter(username=email).exists():
        return JsonResponse({"error": "this email has already signed up"}, status=409)
    with transaction.atomic():
        User.objects.create_user(username=email, email=email)
        if request.GET.get("inline") == "1":
            send_welcome(email)
        else:
            # Enqueue only once the user row is committed, so the worker can see it.
            send_welcome_email.delay_on_commit(email)
    return JsonResponse(
        {"email": email, "welcome": "sent" if request.GET.get("inline") == "1" else "queued"}, status=201
    )
