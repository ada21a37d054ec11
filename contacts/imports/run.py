"""The worker's task around the check and the write: claims a queued import (so a second run
does nothing), reports progress, and turns any failure into a failed import with its reason."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from contacts.models import ContactImport
from cpaas.tenancy import Actor

from . import rows, writing

log = logging.getLogger(__name__)


def import_run(*, import_id: int, now=None) -> str:
    """Check then write one queued import. Safe to call twice: only a queued import runs."""
    started = now or timezone.now()
    claimed = ContactImport.objects.filter(pk=import_id, status=ContactImport.Status.QUEUED).update(
        status=ContactImport.Status.VALIDATING, started_at=started, processed_rows=0
    )
    if not claimed:
        return "not queued"
    contact_import = ContactImport.objects.select_related("workspace", "created_by").get(pk=import_id)
    actor = Actor.for_user(contact_import.created_by) if contact_import.created_by else Actor.system("import")

    def progress(done: int) -> None:
        ContactImport.objects.filter(pk=import_id).update(processed_rows=done)

    try:
        plan = rows.import_validate(contact_import=contact_import, progress=progress)
        if plan.error_count and not contact_import.skip_invalid_rows:
            _fail(
                import_id,
                f"{_count(plan.error_count, 'problem')} in {_count(plan.invalid_rows, 'row')}: nothing was "
                "imported. Fix the rows listed below and upload the file again, or import the valid rows "
                "only.",
                plan=plan,
            )
            return "invalid"
        ContactImport.objects.filter(pk=import_id).update(
            status=ContactImport.Status.WRITING, processed_rows=plan.total_rows, total_rows=plan.total_rows
        )
        writing.import_write(contact_import=contact_import, plan=plan, actor=actor, now=now)
    except ValidationError as exc:  # the stored file no longer reads (it did at upload)
        _fail(import_id, " ".join(exc.messages) + " Nothing was imported.")
        return "failed"
    except (writing.ImportConflict, IntegrityError) as exc:
        log.warning("contact import %s conflicted: %s", import_id, exc)
        _fail(
            import_id,
            f"Contacts changed while the import ran ({exc}). Nothing was imported: "
            "upload the file again to import it against the current contacts.",
        )
        return "failed"
    except Exception as exc:
        log.exception("contact import %s failed", import_id)
        _fail(
            import_id,
            f"The import stopped on an unexpected error ({type(exc).__name__}: {str(exc)[:300]}). "
            "Nothing was imported.",
        )
        return "failed"
    return "completed"


def import_fail_if_stale(*, contact_import: ContactImport, now=None) -> bool:
    """Mark a check or write whose worker died (killed, timed out, restarted) as failed, so its
    page stops waiting. Its transaction never committed, so nothing was written."""
    now = now or timezone.now()
    limit = timedelta(seconds=settings.Q_CLUSTER.get("timeout", 1800) + 60)
    stale = ContactImport.objects.filter(
        pk=contact_import.pk,
        status__in=[ContactImport.Status.VALIDATING, ContactImport.Status.WRITING],
        started_at__lt=now - limit,
    ).update(
        status=ContactImport.Status.FAILED,
        failure_reason="The worker stopped before the import finished. Nothing was imported: start it again.",
        finished_at=now,
    )
    return bool(stale)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _fail(import_id: int, reason: str, plan: rows.ImportPlan | None = None) -> None:
    values = {"status": ContactImport.Status.FAILED, "failure_reason": reason, "finished_at": timezone.now()}
    if plan is not None:
        values.update(
            processed_rows=plan.total_rows,
            total_rows=plan.total_rows,
            error_count=plan.error_count,
            skipped_count=0,
            errors=plan.errors,
        )
    ContactImport.objects.filter(pk=import_id).update(**values)


def errors_csv_rows(contact_import: ContactImport) -> Iterator[list[str]]:
    """The kept row errors as CSV rows (header first); `cpaas.csv_safe` makes them safe to open."""
    yield ["line", "column", "value", "reason"]
    for error in contact_import.errors:
        yield [str(error["line"]), error["column"], error["value"], error["reason"]]
