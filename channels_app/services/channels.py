"""Writes for configured senders: create, edit, test, enable/disable, and the sandbox channels a
workspace starts with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import ChannelKind
from cpaas import outbound
from cpaas.audit import audit_record
from cpaas.models import Workspace
from cpaas.tenancy import Actor

from ..models import Channel, ChannelBucket, ChannelTemplate
from ..providers import PROVIDERS, default_provider, get_provider
from ..providers.base import MessageTemplate, ProviderError

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
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,40}")


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
    if rate_limit_per_second in (None, "") and provider in PROVIDERS and isinstance(settings, dict):
        # the provider's default for the kind (long-code SMS 1/s, WhatsApp's throughput tier...)
        rate_limit_per_second = get_provider(provider).default_rate(kind, settings)
    try:
        rate = int(rate_limit_per_second)
        if not 1 <= rate <= RATE_MAX:
            raise ValueError
    except (TypeError, ValueError):
        errors["rate_limit_per_second"] = [f"A whole number from 1 to {RATE_MAX:,}."]
        rate = None
    if not isinstance(settings, dict):
        errors["settings"] = ["Must be an object."]
    else:
        if settings.get("api_base"):
            problem = outbound.literal_problem(
                str(settings["api_base"]),
                allowed=outbound.networks(django_settings.CHANNELS_PROVIDER_ALLOWED_NETWORKS),
            )
            if problem:
                errors["settings.api_base"] = [f"api_base: {problem}"]
        if provider in PROVIDERS:
            for field in get_provider(provider).setting_fields:
                if field.required and settings.get(field.name) in (None, ""):
                    errors[f"settings.{field.name}"] = ["Required."]
                elif field.input == "choice" and settings.get(field.name) not in (None, ""):
                    allowed = [value for value, _ in field.choices]
                    if str(settings[field.name]) not in allowed:
                        errors[f"settings.{field.name}"] = [f"One of: {', '.join(allowed)}."]
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
    missing = [
        f.name for f in get_provider(provider).credential_fields if f.required and not merged.get(f.name)
    ]
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
    rate_limit_per_second: int | None = None,
    settings: dict | None = None,
    webhook_token: str = "",
) -> Channel:
    """`rate_limit_per_second` None: the provider's default for the kind. `webhook_token`: the
    one the setup form made and showed in the webhook URLs before saving (new when blank)."""
    errors: dict[str, list[str]] = {}
    if provider in PROVIDERS:
        settings = {**get_provider(provider).generated_settings(), **(settings or {})}
    if webhook_token and (
        not TOKEN_RE.fullmatch(webhook_token) or Channel.objects.filter(webhook_token=webhook_token).exists()
    ):
        errors["webhook_token"] = ["This form's webhook address is no longer valid: reload the page."]
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
    if webhook_token:
        channel.webhook_token = webhook_token
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


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    text: str  # what works, or what is wrong, in words
    senders: list[tuple[str, str]]  # (address, label) the account lists, for the address picker


def channel_check(
    *,
    workspace: Workspace,
    actor: Actor,
    provider: str,
    kind: str,
    address: str = "",
    credentials: dict | None = None,
    settings: dict | None = None,
    channel: Channel | None = None,
) -> ConnectionCheck:
    """ "Test connection" on the setup form, before (or without) saving: the provider checks
    the credentials typed so far (blank ones: the stored values of `channel`) and lists the
    account's senders. Nothing is saved but an audit entry (credential names, never values)."""
    if provider not in PROVIDERS:
        return ConnectionCheck(False, f"Unknown provider '{provider}'.", [])
    adapter = get_provider(provider)
    stored = channel.credentials if channel is not None else {}
    given = {k: v for k, v in (credentials or {}).items() if v}
    merged = {**stored, **given}
    generated = adapter.generated_credentials()
    missing = [
        f.label
        for f in adapter.credential_fields
        if f.required and not merged.get(f.name) and f.name not in generated
    ]
    if missing:
        return ConnectionCheck(False, f"Fill in {', '.join(missing)} first.", [])
    settings = {**adapter.generated_settings(), **(settings or {})}
    if settings.get("api_base"):
        problem = outbound.literal_problem(
            str(settings["api_base"]),
            allowed=outbound.networks(django_settings.CHANNELS_PROVIDER_ALLOWED_NETWORKS),
        )
        if problem:
            return ConnectionCheck(False, f"API base URL: {problem}", [])
    probe = Channel(workspace=workspace, kind=kind, provider=provider, address=address, settings=settings)
    probe.set_credentials({**adapter.generated_credentials(), **merged})
    senders: list[tuple[str, str]] = []
    try:
        ok, text = True, adapter.test_credentials(probe)
        try:
            senders = adapter.senders(probe)
        except ProviderError as exc:
            text += f" (Its numbers could not be listed: {exc})"
    except ProviderError as exc:
        ok, text = False, str(exc)
    with transaction.atomic():
        audit_record(
            workspace=workspace,
            actor=actor,
            action="channels.channel.tested",
            target=channel,
            data={"ok": ok, "result": text[:300], "provider": provider, "credentials": sorted(given)},
        )
    return ConnectionCheck(ok, text, senders)


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


def channel_templates(*, workspace: Workspace, kind: str) -> list[MessageTemplate]:
    """The approved templates (`providers.base.MessageTemplate`) of the channel a send of this
    kind goes through: the workspace's first active channel of the kind, as the pipeline picks it.
    Its provider's built-in ones (the sandbox's) and the approved ones synced from its account."""
    channel = (
        Channel.objects.filter(workspace=workspace, kind=kind, status=Channel.Status.ACTIVE)
        .order_by("pk")
        .first()
    )
    if channel is None:
        return []
    return get_provider(channel.provider).templates(channel) + [
        _as_template(row) for row in channel.templates.filter(status="approved")
    ]


def _as_template(row: ChannelTemplate) -> MessageTemplate:
    return MessageTemplate(
        name=row.name,
        language=row.language,
        body=row.body,
        category=row.category,
        variables=tuple(tuple(v) for v in row.variables),
        status=row.status,
    )


def channel_templates_sync(*, channel: Channel, actor: Actor, now) -> tuple[bool, str]:
    """Read every template of the channel's account from the provider and keep them (a
    template the account no longer has is removed). Not atomic around the network call."""
    try:
        fetched = get_provider(channel.provider).fetch_templates(channel)
    except ProviderError as exc:
        return False, f"The templates could not be read: {exc}"
    if fetched is None:
        return False, "This provider has no message templates."
    with transaction.atomic():
        channel_templates_apply(channel=channel, templates=fetched, now=now)
        keep = {(f.name, f.language) for f in fetched}
        rows = ChannelTemplate.objects.filter(channel=channel).values_list("pk", "name", "language")
        ChannelTemplate.objects.filter(pk__in=[pk for pk, *key in rows if tuple(key) not in keep]).delete()
        audit_record(
            workspace=channel.workspace,
            actor=actor,
            action="channels.templates.synced",
            target=channel,
            data={"templates": len(fetched)},
        )
    approved = sum(1 for t in fetched if t.status == "approved")
    return True, f"{len(fetched)} templates read, {approved} approved."


def channel_templates_apply(*, channel: Channel, templates: list[MessageTemplate], now) -> None:
    """Upsert what the provider said about templates (a sync, or a review-status webhook whose
    body may be empty: a known body is then kept)."""
    for t in templates:
        values = {"status": t.status[:24], "updated_at": now, "workspace_id": channel.workspace_id}
        if t.category:
            values["category"] = t.category[:20]
        if t.body:
            values["body"], values["variables"] = t.body, [list(v) for v in t.variables]
        if getattr(t, "reason", ""):
            values["reason"] = t.reason[:300]
        ChannelTemplate.objects.update_or_create(
            channel=channel, name=t.name, language=t.language, defaults=values
        )
