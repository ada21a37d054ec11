"""Moved to `cpaas.bulk` (contacts needs it too and may not import channels_app); kept so
existing imports go on working."""

from cpaas.bulk import COPY_ABOVE, copy_values, insert_ignoring_conflicts, insert_rows  # noqa: F401
