"""Vendor pinned third-party front-end files from the npm registry, unmodified, with their
licence, and record name, version, licence and SHA-256 in static/vendor/VENDORED.json.

    python scripts/vendor.py            # fetch every package below (needs `npm`)
    python scripts/vendor.py axe-core   # only the packages named

No CDN and no build step: the files are served by WhiteNoise as they are."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"
RECORD = VENDOR / "VENDORED.json"

# package, version, {file in the tarball: destination under static/vendor/}
PACKAGES = [
    (
        "@joint/core",
        "4.3.3",
        {"package/dist/joint.min.js": "joint/joint.min.js", "package/LICENSE": "joint/LICENSE"},
    ),
    (
        "chart.js",
        "4.6.1",
        {
            "package/dist/chart.umd.min.js": "chartjs/chart.umd.min.js",
            "package/LICENSE.md": "chartjs/LICENSE.md",
        },
    ),
    # the icons: one sprite of <symbol>s, used as <svg><use href="sprite.svg#name"> (the
    # CSP allows same-origin images and no inline styles; templates: {% icon "name" %})
    (
        "lucide-static",
        "1.62.0",
        {"package/sprite.svg": "lucide/sprite.svg", "package/LICENSE": "lucide/LICENSE"},
    ),
    # the accessibility checker the browser tests run on every main page (never served to users)
    (
        "axe-core",
        "4.11.0",
        {"package/axe.min.js": "axe-core/axe.min.js", "package/LICENSE": "axe-core/LICENSE"},
    ),
]


def vendor(name: str, version: str, files: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--json", "--silent"],
            cwd=tmp, check=True, capture_output=True, text=True,
        )  # fmt: skip
        info = json.loads(out.stdout)[0]
        tarball = Path(tmp) / info["filename"]
        with tarfile.open(tarball) as tar:
            meta = json.load(tar.extractfile("package/package.json"))
            written = {}
            for src, dest in files.items():
                data = tar.extractfile(src).read()
                target = VENDOR / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                written[dest] = hashlib.sha256(data).hexdigest()
    return {
        "name": name,
        "version": meta["version"],
        "license": meta.get("license", ""),
        "source": f"https://registry.npmjs.org/{name}/-/{info['filename']}",
        "tarball_sha512": info.get("integrity", ""),
        "files": written,
    }


def main() -> int:
    record = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    only = set(sys.argv[1:])
    for name, version, files in PACKAGES:
        if only and name not in only:
            continue
        record[name] = vendor(name, version, files)
        print(f"{name}@{record[name]['version']} ({record[name]['license']}): {', '.join(files.values())}")
    RECORD.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
