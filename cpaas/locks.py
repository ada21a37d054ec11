"""Row locks that leave the caller holding the row as it is now.

A service that locks a row must re-read it under the lock, and the caller must then see what
the service changed: a copy made before (a view's object read at the start of the request)
silently undoes later work when it is used again (issue 11: publish twice reverted the draft).
So the lock refreshes the caller's own instance in place instead of making a new one."""

from __future__ import annotations

from typing import TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def lock_refresh(obj: M) -> M:
    """SELECT ... FOR UPDATE the row of `obj` (only that table's row) and reload every field into
    `obj` itself; returns `obj`. Call it inside the service's transaction. Cached related objects
    whose foreign key did not change are kept, so callers do not pay queries for them again."""
    kept = {
        field: (getattr(obj, field.attname), field.get_cached_value(obj))
        for field in obj._meta.concrete_fields
        if field.is_relation and field.is_cached(obj)
    }
    obj.refresh_from_db(from_queryset=type(obj)._base_manager.select_for_update())
    for field, (old_id, value) in kept.items():
        if getattr(obj, field.attname) == old_id and not field.is_cached(obj):
            field.set_cached_value(obj, value)
    return obj
