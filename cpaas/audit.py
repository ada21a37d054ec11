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
