"""Render every generated file: dashboards/generated/<uid>.json and dashboards/provisioning/**.

`render()` is pure (the in-memory text of every file); `write()` puts it on disk; `stale()` lists
files whose committed text differs from a fresh render (the "regenerate = no diff" check).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard

from touchline.dashboards import coaching, ops, rep_view
from touchline.dashboards.panels import to_json
from touchline.dashboards.provisioning_files import provisioning_files

ROOT = Path(__file__).resolve().parent

#: uid -> dashboard builder function
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    ops.UID: ops.ops_control_panel,
    coaching.UID: coaching.manager_coaching_view,
    rep_view.UID: rep_view.rep_view,
}


def render() -> dict[str, str]:
    """Relative path under dashboards/ -> file text, for every generated file."""
    files = {f"generated/{uid}.json": to_json(make()) for uid, make in DASHBOARDS.items()}
    files.update({f"provisioning/{path}": text for path, text in provisioning_files().items()})
    return files


def write(root: Path = ROOT) -> list[Path]:
    """Write every generated file under root; return the paths written."""
    written = []
    for rel, text in render().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(root: Path = ROOT) -> list[str]:
    """Generated files missing or different on disk (empty = up to date)."""
    out = []
    for rel, text in render().items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    return out
