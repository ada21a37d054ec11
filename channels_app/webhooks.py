"""Provider webhooks: /webhooks/<provider>/<channel token>/inbound/ and .../status/, and
/webhooks/<provider>/<channel token>/ for providers that send everything to one URL (GET: its
verification challenge).

The channel's random token in the URL finds the channel; the provider's signature proves the
caller. An invalid signature is a 403 and nothing is stored; a malformed payload is a 400,
logged. Each request is one durable transaction."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import conf
from .models import Channel
from .providers import PROVIDERS, get_provider
from .providers.base import MalformedPayload, WebhookRequest
from .services.channels import channel_templates_apply
from .services.inbound import inbound_receive
from .services.status import statuses_apply

log = logging.getLogger(__name__)


class SignatureInvalid(Exception):
    pass


def _channel(provider: str, token: str) -> Channel:
    if provider not in PROVIDERS:
        raise Http404
    channel = (
        Channel.objects.select_related("workspace").filter(provider=provider, webhook_token=token).first()
    )
    if channel is None:
        raise Http404
    return channel


def _request(request) -> WebhookRequest:
    base = conf.explicit("CHANNELS_PUBLIC_URL").rstrip("/")
    # Providers sign the URL they called; behind a proxy that is the public one.
    return WebhookRequest.from_django(request, public_url=base + request.get_full_path() if base else None)


def inbound_process(channel: Channel, req: WebhookRequest) -> list:
    provider = get_provider(channel.provider)
    if not provider.verify_signature(channel, req):
        raise SignatureInvalid
    inbounds = provider.parse_inbound(channel, req)
    now = timezone.now()
    with transaction.atomic(durable=True):
        return [inbound_receive(channel=channel, inbound=i, now=now) for i in inbounds]


def status_process(channel: Channel, req: WebhookRequest) -> dict:
    provider = get_provider(channel.provider)
    if not provider.verify_signature(channel, req):
        raise SignatureInvalid
    updates = provider.parse_status(channel, req)
    with transaction.atomic(durable=True):
        return statuses_apply(channel=channel, updates=updates, now=timezone.now(), source="webhook")


def events_process(channel: Channel, req: WebhookRequest) -> dict:
    """One POST carrying inbound messages, receipts and template reviews (Meta batches them):
    all stored in one transaction, or none."""
    provider = get_provider(channel.provider)
    if not provider.verify_signature(channel, req):
        raise SignatureInvalid
    events = provider.parse_events(channel, req)
    now = timezone.now()
    with transaction.atomic(durable=True):
        received = [inbound_receive(channel=channel, inbound=i, now=now) for i in events.inbound]
        applied = statuses_apply(channel=channel, updates=events.statuses, now=now, source="webhook")
        if events.templates:
            channel_templates_apply(channel=channel, templates=events.templates, now=now)
    return {"received": received, "statuses": applied}


def _answer(channel: Channel, handler, request):
    req = _request(request)
    try:
        handler(channel, req)
    except SignatureInvalid:
        log.warning("webhook %s for channel %s: invalid signature", request.path, channel.pk)
        return JsonResponse(
            {"error": {"code": "invalid_signature", "message": "Invalid signature."}}, status=403
        )
    except MalformedPayload as exc:
        log.warning(
            "webhook %s for channel %s: malformed payload: %s; body=%r",
            request.path,
            channel.pk,
            exc,
            req.body[:2000],
        )
        return JsonResponse({"error": {"code": "malformed_payload", "message": str(exc)}}, status=400)
    body, content_type = get_provider(channel.provider).webhook_response(channel.kind)
    return HttpResponse(body, content_type=content_type)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def events_webhook(request, provider: str, token: str):
    """GET: the provider's verification challenge; POST: everything it sends, to one URL."""
    channel = _channel(provider, token)
    if request.method == "GET":
        answer = get_provider(provider).verify_challenge(channel, _request(request))
        if answer is None:
            log.warning("webhook %s for channel %s: verification refused", request.path, channel.pk)
            return HttpResponse("Verification refused.", status=403, content_type="text/plain")
        return HttpResponse(answer, content_type="text/plain")
    return _answer(channel, events_process, request)


@csrf_exempt
@require_POST
def inbound_webhook(request, provider: str, token: str):
    return _answer(_channel(provider, token), inbound_process, request)


@csrf_exempt
@require_POST
def status_webhook(request, provider: str, token: str):
    return _answer(_channel(provider, token), status_process, request)
