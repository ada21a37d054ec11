"""Screenshots for docs/: taken by the browser tests only when DOCS_SCREENSHOTS=1, so an
ordinary test run leaves the working tree clean."""

import os
from pathlib import Path

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def docs_screenshot(target, name: str) -> None:
    """`target` is a Playwright page or locator; the PNG goes to docs/img/<name>."""
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        target.screenshot(path=str(IMG / name))
