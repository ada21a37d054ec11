#!/usr/bin/env bash
# Resolve pyproject.toml's pins (and everything they need) into the two hashed lock files:
# requirements.lock (the app: production, the Dockerfile) and requirements-dev.lock (+ tests).
# Run after changing a pin; commit both files. tests/test_lock.py fails while they disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
[ -x $UV ] || .venv/bin/python -m pip install -q uv==0.13.9
$UV pip compile -q --generate-hashes --python-version 3.11 pyproject.toml -o requirements.lock
$UV pip compile -q --generate-hashes --python-version 3.11 pyproject.toml --extra dev -o requirements-dev.lock
