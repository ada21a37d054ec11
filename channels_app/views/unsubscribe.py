"""The public unsubscribe page behind an email's List-Unsubscribe link (channels_app/unsubscribe.py).

No log-in: the signed token is the authority, and it reaches one message's contact only. POST
acts (RFC 8058: a mail client's one-click POST carries `List-Unsubscribe=One-Click` and no
cookies, hence no CSRF token); GET never does (scanners prefetch links), it shows the button."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .. import unsubscribe as service


@csrf_exempt
def email_unsubscribe(request, token: str):
    message = service.message_for(token)
    if message is None:
        return render(request, "channels_app/unsubscribe.html", {"state": "unknown"}, status=404)
    context = {"workspace_name": message.workspace.name, "purpose": message.purpose}
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        with transaction.atomic():
            service.unsubscribe(
                message,
                at=timezone.now(),
                one_click=one_click,
                url=request.build_absolute_uri(request.path),
                ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("User-Agent", ""),
            )
        return render(request, "channels_app/unsubscribe.html", {**context, "state": "done"})
    if request.method not in ("GET", "HEAD"):
        return render(request, "channels_app/unsubscribe.html", {"state": "unknown"}, status=405)
    return render(request, "channels_app/unsubscribe.html", {**context, "state": "confirm"})
