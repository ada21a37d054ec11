"""The audit log's one writer. Call it inside the service's transaction so the entry and the
change commit together."""

from django.db import models
from django.utils import timezone

from .models import AuditEntry, Workspace
from .tenancy import Actor


def audit_record(
    *,
    workspace: Workspace,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    data: dict | None = None,
    at=None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        workspace=workspace,
        actor_type=actor.kind,
        actor_user=actor.user if actor.kind == "user" else None,
        actor_token=actor.token if actor.kind == "token" else None,
        actor_label=actor.label[:150],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:200] if target is not None else "",
        data=data or {},
        created_at=at or timezone.now(),
    )


def audit_record_many(
    *, workspace: Workspace, actor: Actor, action: str, targets: list, data: dict | None = None, at=None
) -> None:
    """One entry per target, as `audit_record` would write them, in one multi-row insert (COPY on
    PostgreSQL: the batch APIs create or update thousands of contacts in a request)."""
    if not targets:
        return
    at = at or timezone.now()
    common = {  # ids, not objects: the foreign-key descriptors cost more than the rest of the row
        "workspace_id": workspace.pk,
        "actor_type": actor.kind,
        "actor_user_id": actor.user.pk if actor.kind == "user" else None,
        "actor_token_id": actor.token.pk if actor.kind == "token" else None,
        "actor_label": actor.label[:150],
        "action": action,
        "created_at": at,
    }
    from .bulk import insert_rows

    insert_rows(
        AuditEntry,
        [
            AuditEntry(
                **common,
                target_type=t._meta.label_lower,
                target_id=str(t.pk),
                target_label=str(t)[:200],
                data=(data or {}) if not callable(data) else data(t),
            )
            for t in targets
        ],
    )


def audit_fields(data) -> list[tuple[str, str]]:
    """An entry's data as (label, text) pairs people read on the audit page, instead of a
    Python dict: keys in words ("first_name" -> "First name"), nested keys joined ("Changed ·
    phone"), a [before, after] pair as "before → after", lists as comma lists."""
    out: list[tuple[str, str]] = []

    def words(key) -> str:
        text = str(key).replace("_", " ").strip()
        return text[:1].upper() + text[1:]

    def text(value) -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list | tuple):
            return ", ".join(text(v) for v in value) or "—"
        if isinstance(value, dict):
            return ", ".join(f"{k}: {text(v)}" for k, v in value.items()) or "—"
        return str(value)

    def walk(prefix: str, value, depth: int) -> None:
        if isinstance(value, dict) and value and depth < 2:
            for k, v in value.items():
                walk(f"{prefix} · {k}" if prefix else words(k), v, depth + 1)
        elif depth > 1 and isinstance(value, list | tuple) and len(value) == 2:
            out.append((prefix, f"{text(value[0])} → {text(value[1])}"))  # a change: before, after
        else:
            out.append((prefix or "Details", text(value)))

    if isinstance(data, dict):
        walk("", data, 0)
    elif data not in (None, "", [], {}):
        out.append(("Details", text(data)))
    return out
