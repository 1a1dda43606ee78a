"""Files a report page needs in order to open offline: today, the Mermaid renderer for lesson diagrams.

nbconvert's lesson pages import Mermaid (and MathJax and require.js) from a CDN; offline, every diagram
silently disappears. labkit's page template loads nothing from the network; instead the report folder gets
its own copy of ``mermaid.min.js`` (the npm package's self-contained build, which a classic ``<script
src>`` can load from ``file://``), fetched once with ``npm pack`` into labkit's cache -- the same registry
client labkit already uses for PostgreSQL builds.
"""
from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from . import paths
from .errors import LabkitError

MERMAID_VERSION = "11.10.0"
"""The Mermaid release nbconvert 7.17's lab template names, so diagrams render as JupyterLab shows them."""
MERMAID_MEMBER = "package/dist/mermaid.min.js"
ASSETS_DIR = "assets"
NPM_TIMEOUT_S = 300


def mermaid_js(version: str = MERMAID_VERSION) -> Path:
    """The cached ``mermaid.min.js`` of ``version``, fetched with ``npm pack`` the first time."""
    target = paths.cache_dir() / "assets" / f"mermaid-{version}" / "mermaid.min.js"
    if target.is_file() and target.stat().st_size > 0:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise LabkitError("cannot fetch the Mermaid renderer: npm is not installed",
                          "install npm (apt-get install npm); until then diagrams show as their source text")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="labkit-mermaid-") as tmp:
        try:
            done = subprocess.run([npm, "pack", f"mermaid@{version}", "--silent", "--pack-destination", tmp],
                                  capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise LabkitError(f"npm pack mermaid@{version} did not finish within {NPM_TIMEOUT_S} s",
                              "check that the npm registry is reachable, then run again") from exc
        tarballs = sorted(Path(tmp).glob("mermaid-*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise LabkitError(f"npm pack mermaid@{version} failed: {done.stderr.strip()[-300:]}",
                              "check that the npm registry is reachable, then run again")
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile(MERMAID_MEMBER)
            if member is None:
                raise LabkitError(f"the mermaid@{version} package has no {MERMAID_MEMBER}",
                                  "pin another version in labkit.offline_assets.MERMAID_VERSION")
            partial = target.with_suffix(".part")
            partial.write_bytes(member.read())
            partial.replace(target)
    return target


def ship_mermaid(out_dir: Path) -> str:
    """Copy the renderer into ``out_dir/assets/`` (once) and return its path relative to the pages."""
    source = mermaid_js()
    destination = out_dir / ASSETS_DIR / source.name
    if not destination.is_file() or destination.stat().st_size != source.stat().st_size:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return f"{ASSETS_DIR}/{source.name}"
