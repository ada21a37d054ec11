"""Writes for configured senders: create, edit, test, enable/disable, and the sandbox channels a
workspace starts with."""

from __future__ import annotations

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import ChannelKind
from cpaas import outbound
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..models import Channel, ChannelBucket
from ..providers import PROVIDERS, default_provider, get_provider
from ..providers.base import ProviderError

SANDBOX_ADDRESSES = {
    "sms": "+15005550006",
    "whatsapp": "+15005550006",
    "rcs": "sandbox-rcs-agent",
    "voice": "+15005550006",
    "email": "sandbox@messages.example",
    "viber": "SandboxBiz",
    "messenger": "sandbox-page",
    "push": "sandbox-app",
}
SANDBOX_RATE = 100
RATE_MAX = 100_000


def _clean(
    *, workspace, kind, provider, name, address, rate_limit_per_second, settings, channel=None
) -> dict:
    errors = {}
    if kind not in ChannelKind.values:
        errors["kind"] = [f"Unknown channel kind '{kind}' (known: {', '.join(ChannelKind.values)})."]
    if provider not in PROVIDERS:
        errors["provider"] = [f"Unknown provider '{provider}' (known: {', '.join(PROVIDERS)})."]
    elif kind in ChannelKind.values and kind not in get_provider(provider).kinds:
        kinds = ", ".join(sorted(get_provider(provider).kinds))
        errors["kind"] = [f"{get_provider(provider).label} does not carry {kind} (it carries {kinds})."]
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the channel a name."]
    elif (
        Channel.objects.filter(workspace=workspace, name=name)
        .exclude(pk=getattr(channel, "pk", None))
        .exists()
    ):
        errors["name"] = [f"A channel called '{name}' already exists."]
    try:
        rate = int(rate_limit_per_second)
        if not 1 <= rate <= RATE_MAX:
            raise ValueError
    except (TypeError, ValueError):
        errors["rate_limit_per_second"] = [f"A whole number from 1 to {RATE_MAX:,}."]
        rate = None
    if not isinstance(settings, dict):
        errors["settings"] = ["Must be an object."]
    elif settings.get("api_base"):
        problem = outbound.literal_problem(
            str(settings["api_base"]),
            allowed=outbound.networks(django_settings.CHANNELS_PROVIDER_ALLOWED_NETWORKS),
        )
        if problem:
            errors["settings"] = [f"api_base: {problem}"]
    if provider in PROVIDERS and get_provider(provider).needs_address and not (address or "").strip():
        errors["address"] = ["The sender's number, id or email address."]
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "provider": provider,
        "name": name,
        "address": (address or "").strip(),
        "rate_limit_per_second": rate,
        "settings": settings,
    }


def _check_credentials(provider: str, credentials: dict, existing: dict) -> dict:
    given = {**existing, **{k: v for k, v in credentials.items() if v}}
    merged = {**get_provider(provider).generated_credentials(), **given}
    missing = [f.name for f in get_provider(provider).credential_fields if not merged.get(f.name)]
    if missing:
        raise ValidationError({f"credentials.{name}": ["Required."] for name in missing})
    known = {f.name for f in get_provider(provider).credential_fields}
    return {k: v for k, v in merged.items() if k in known}


@transaction.atomic
def channel_create(
    *,
    workspace: Workspace,
    actor: Actor,
    kind: str,
    provider: str,
    name: str,
    address: str = "",
    credentials: dict | None = None,
    rate_limit_per_second: int = 20,
    settings: dict | None = None,
) -> Channel:
    errors: dict[str, list[str]] = {}
    try:
        clean = _clean(
            workspace=workspace,
            kind=kind,
            provider=provider,
            name=name,
            address=address,
            rate_limit_per_second=rate_limit_per_second,
            settings=settings or {},
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        creds = _check_credentials(provider, credentials or {}, {}) if provider in PROVIDERS else {}
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:  # every field's error at once
        raise ValidationError(errors)
    channel = Channel(workspace=workspace, **clean)
    channel.set_credentials(creds)
    channel.save()
    ChannelBucket.objects.create(channel=channel, tokens=channel.rate_limit_per_second)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="channels.channel.created",
        target=channel,
        data={"kind": kind, "provider": provider, "credentials": sorted(creds)},  # names, never values
    )
    return channel


@transaction.atomic
def channel_update(
    *,
    channel: Channel,
    actor: Actor,
    name: str,
    address: str,
    rate_limit_per_second: int,
    credentials: dict | None = None,
    settings: dict | None = None,
) -> Channel:
    """Credentials left blank keep their stored value (they are never shown back to edit)."""
    clean = _clean(
        workspace=channel.workspace,
        kind=channel.kind,
        provider=channel.provider,
        name=name,
        address=address,
        rate_limit_per_second=rate_limit_per_second,
        settings=channel.settings if settings is None else settings,
        channel=channel,
    )
    changed_credentials = sorted(k for k, v in (credentials or {}).items() if v)
    creds = _check_credentials(channel.provider, credentials or {}, channel.credentials)
    for field, value in clean.items():
        setattr(channel, field, value)
    channel.set_credentials(creds)
    channel.save()
    audit_record(
        workspace=channel.workspace,
        actor=actor,
        action="channels.channel.updated",
        target=channel,
        data={"credentials_changed": changed_credentials},
    )
    return channel


@transaction.atomic
def channel_set_status(*, channel: Channel, actor: Actor, active: bool) -> Channel:
    channel.status = Channel.Status.ACTIVE if active else Channel.Status.DISABLED
    channel.save(update_fields=["status", "updated_at"])
    audit_record(
        workspace=channel.workspace,
        actor=actor,
        action="channels.channel.enabled" if active else "channels.channel.disabled",
        target=channel,
    )
    return channel


def channel_test(*, channel: Channel, actor: Actor) -> tuple[bool, str]:
    """Ask the provider whether the credentials work. Not atomic around the network call: the
    audit entry is written after it, in its own transaction."""
    try:
        ok, text = True, get_provider(channel.provider).test_credentials(channel)
    except ProviderError as exc:
        ok, text = False, str(exc)
    with transaction.atomic():
        audit_record(
            workspace=channel.workspace,
            actor=actor,
            action="channels.channel.tested",
            target=channel,
            data={"ok": ok, "result": text[:300]},
        )
    return ok, text


@transaction.atomic
def sandbox_channels_ensure(*, workspace: Workspace) -> list[Channel]:
    """A sandbox channel of every kind the workspace has no channel of yet (a new workspace
    starts with all of them; a disabled one stays disabled)."""
    have = set(Channel.objects.filter(workspace=workspace).values_list("kind", flat=True))
    provider = default_provider()
    created = []
    for kind, label in ChannelKind.choices:
        if kind in have:
            continue
        name = f"Sandbox {label}"
        if Channel.objects.filter(workspace=workspace, name=name).exists():
            continue
        channel = Channel(
            workspace=workspace,
            kind=kind,
            provider=provider,
            name=name,
            address=SANDBOX_ADDRESSES[kind],
            rate_limit_per_second=SANDBOX_RATE,
        )
        channel.set_credentials(get_provider(provider).generated_credentials())
        created.append(channel)
    if created:
        Channel.objects.bulk_create(created)
        created = list(Channel.objects.filter(workspace=workspace, name__in=[c.name for c in created]))
        ChannelBucket.objects.bulk_create(
            [ChannelBucket(channel=c, tokens=c.rate_limit_per_second) for c in created], ignore_conflicts=True
        )
    return created


def channel_templates(*, workspace: Workspace, kind: str) -> list:
    """The approved templates (`providers.base.MessageTemplate`) of the channel a send of this
    kind goes through: the workspace's first active channel of the kind, as the pipeline picks it.
    Empty when there is none or its provider has not listed any."""
    channel = (
        Channel.objects.filter(workspace=workspace, kind=kind, status=Channel.Status.ACTIVE)
        .order_by("pk")
        .first()
    )
    return get_provider(channel.provider).templates(channel) if channel else []
