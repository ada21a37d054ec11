"""Channels admin: add a sender, edit it (credentials are never shown back), test it against its
provider, enable or disable it."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from cpaas.forms import apply_errors
from cpaas.tenancy import Actor, workspace_required

from .. import conf, selectors
from ..forms import ChannelForm
from ..models import Channel
from ..providers import PROVIDERS, all_providers, default_provider, get_provider
from ..services import channels as services


def _channel_or_404(request, pk) -> Channel:
    try:
        return selectors.channel_get(workspace=request.workspace, pk=pk)
    except Channel.DoesNotExist:
        raise Http404 from None


@workspace_required("channels.manage")
def channel_list(request):
    services.sandbox_channels_ensure(workspace=request.workspace)
    return render(
        request,
        "channels_app/channel_list.html",
        {
            "channels": selectors.channel_list(workspace=request.workspace),
            "providers": [p for p in all_providers() if not p.simulator],
        },
    )


def _webhooks(request, provider: str, token: str) -> list:
    """The provider's webhook URLs for this channel, absolute, as its console wants them."""
    base = conf.explicit("CHANNELS_PUBLIC_URL").rstrip("/") or f"{request.scheme}://{request.get_host()}"
    urls = {
        k: base + reverse(f"webhook_{k}", args=[provider, token]) for k in ("inbound", "status", "events")
    }
    return get_provider(provider).webhook_urls(**urls)


def _page(request, form, provider: str, channel: Channel | None, status: int = 200, check=None):
    token = channel.webhook_token if channel else (form["webhook_token"].value() or "")
    context = {
        "form": form,
        "provider": provider,
        "adapter": get_provider(provider),
        "channel": channel,
        "webhooks": _webhooks(request, provider, token) if token else [],
        "check": check,
        "templates": selectors.channel_template_list(channel=channel) if channel else [],
    }
    return render(request, "channels_app/channel_form.html", context, status=status)


@workspace_required("channels.manage")
def channel_create(request):
    provider = request.POST.get("provider") or request.GET.get("provider") or default_provider()
    if provider not in PROVIDERS:
        provider = default_provider()
    form = ChannelForm(
        request.POST or None,
        provider=provider,
        initial={"provider": provider, "kind": request.GET.get("kind", "")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            channel = services.channel_create(
                workspace=request.workspace,
                actor=Actor.from_request(request),
                kind=data["kind"],
                provider=provider,
                name=data["name"],
                address=data["address"],
                credentials=form.credentials(),
                rate_limit_per_second=data["rate_limit_per_second"],
                settings=form.settings(),
                webhook_token=data.get("webhook_token") or "",
            )
        except ValidationError as exc:
            apply_errors(form, _field_names(exc))
        else:
            flash.success(request, f"Channel {channel.name} added. Test it to check the credentials.")
            return redirect("channel_edit", channel.pk)
    return _page(request, form, provider, None, status=400 if request.method == "POST" else 200)


def _field_names(exc: ValidationError) -> ValidationError:
    """Service field names -> form field names (credentials.x -> cred_x, settings.x -> set_x)."""
    if not hasattr(exc, "error_dict"):
        return exc
    renamed = {}
    for field, messages in exc.message_dict.items():
        name = field.replace("credentials.", "cred_").replace("settings.", "set_")
        renamed["__all__" if name == "webhook_token" else name] = messages  # a hidden field
    return ValidationError(renamed)


@workspace_required("channels.manage")
def channel_edit(request, pk):
    channel = _channel_or_404(request, pk)
    initial = {
        "kind": channel.kind,
        "provider": channel.provider,
        "name": channel.name,
        "address": channel.address,
        "rate_limit_per_second": channel.rate_limit_per_second,
    }
    form = ChannelForm(request.POST or None, provider=channel.provider, editing=channel, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.channel_update(
                channel=channel,
                actor=Actor.from_request(request),
                name=data["name"],
                address=data["address"],
                rate_limit_per_second=data["rate_limit_per_second"],
                credentials=form.credentials(),
                settings=form.settings(existing=channel.settings),
            )
        except ValidationError as exc:
            apply_errors(form, _field_names(exc))
        else:
            flash.success(request, f"Channel {channel.name} saved.")
            return redirect("channel_list")
    return _page(request, form, channel.provider, channel, status=400 if request.method == "POST" else 200)


@require_POST
@workspace_required("channels.manage")
def channel_check(request):
    """ "Test connection" on the setup form: the typed values (blank secrets: the stored ones of
    the channel being edited), nothing saved. htmx swaps the result in; without JavaScript the
    whole form comes back with it."""
    channel = _channel_or_404(request, request.POST["channel"]) if request.POST.get("channel") else None
    provider = channel.provider if channel else request.POST.get("provider", "")
    if provider not in PROVIDERS:
        raise Http404
    form = ChannelForm(request.POST, provider=provider, editing=channel)
    form.is_valid()  # only to read what was typed; field errors show on save
    data = getattr(form, "cleaned_data", {})
    check = services.channel_check(
        workspace=request.workspace,
        actor=Actor.from_request(request),
        provider=provider,
        kind=channel.kind if channel else data.get("kind") or "",
        address=data.get("address") or "",
        credentials=form.credentials() if hasattr(form, "cleaned_data") else {},
        settings=form.settings(existing=channel.settings if channel else {}),
        channel=channel,
    )
    if request.htmx:
        return render(request, "channels_app/channel_form.html#connection", {"check": check})
    return _page(request, form, provider, channel, check=check)


@require_POST
@workspace_required("channels.manage")
def channel_test(request, pk):
    channel = _channel_or_404(request, pk)
    ok, text = services.channel_test(channel=channel, actor=Actor.from_request(request))
    (flash.success if ok else flash.error)(request, f"{channel.name}: {text}")
    return redirect("channel_list")


@require_POST
@workspace_required("channels.manage")
def channel_templates_sync(request, pk):
    channel = _channel_or_404(request, pk)
    ok, text = services.channel_templates_sync(
        channel=channel, actor=Actor.from_request(request), now=timezone.now()
    )
    (flash.success if ok else flash.error)(request, text)
    return redirect("channel_edit", channel.pk)


@require_POST
@workspace_required("channels.manage")
def channel_toggle(request, pk):
    channel = _channel_or_404(request, pk)
    services.channel_set_status(
        channel=channel, actor=Actor.from_request(request), active=not channel.is_active
    )
    flash.success(request, f"{channel.name} {'enabled' if channel.is_active else 'disabled'}.")
    return redirect("channel_list")
