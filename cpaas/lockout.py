"""Log-in throttling with django-axes: what a locked-out person sees, which members are locked,
and the client address the counts are kept by. Unlocking is `services.member_unlock` (the Users
page) or `manage.py axes_reset_username NAME`. Settings: `AXES_*` in settings/base.py."""

from __future__ import annotations

import datetime as dt

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.template.response import TemplateResponse
from django.utils import timezone


def client_ip(request) -> str | None:
    """The client's address. Behind `TRUSTED_PROXY_COUNT` reverse proxies it is the address the
    outermost of them saw (X-Forwarded-For read from the right, so a client cannot forge it by
    sending its own header); otherwise REMOTE_ADDR."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


def cool_off() -> dt.timedelta | None:
    return settings.AXES_COOLOFF_TIME


def lockout_message() -> str:
    minutes = int(cool_off().total_seconds() // 60) if cool_off() else None
    wait = f"for {minutes} minutes after the last attempt" if minutes else "until it is unlocked"
    return (
        f"Too many failed log-ins: log-in with this user name is locked {wait}. "
        "A workspace admin can unlock it now under Settings › Users and roles."
    )


def lockout_response(request, original_response=None, credentials=None):
    """The log-in page again, with the lockout said where the form's errors go (HTTP 429). The
    same answer for every user name, known or not, so it reveals nothing about accounts."""
    # unbound: validating the posted form again would count one more failed attempt
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    return TemplateResponse(
        request,
        "registration/login.html",
        {"form": form, "next": request.POST.get("next", ""), "lockout_message": lockout_message()},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    ).render()


def locked_usernames(usernames) -> set[str]:
    """Which of these user names are locked out now (the by-user-name rule: failures from every
    address together reach the limit within the cool-off)."""
    attempts = AccessAttempt.objects.filter(username__in=list(usernames))
    if cool_off():
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cool_off())
    totals = attempts.values("username").annotate(failures=Sum("failures_since_start"))
    return {t["username"] for t in totals if t["failures"] >= settings.AXES_FAILURE_LIMIT}
