"""Embedded default for `make run`: SQLite, no other service."""

from .base import *  # noqa: F401,F403
