"""The library patches run only on the versions they were written for, and say so in one line."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

from touchline.streams import commit_guard, fetch_backoff
from touchline.streams.library_patch import PatchedVersionMismatch, check_all, require

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def pinned(distribution: str) -> str:
    """The exact version pyproject.toml pins for `distribution`."""
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pins = dict(dep.split("==", 1) for dep in deps if "==" in dep)
    return pins[distribution]


@pytest.mark.parametrize(("distribution", "written_for"), [
    ("faust-streaming", commit_guard.FAUST_VERSION),
    ("aiokafka", fetch_backoff.AIOKAFKA_VERSION),
    ("aiokafka", commit_guard.AIOKAFKA_VERSION),  # the guard reads aiokafka's partition state
])
def test_each_patch_names_the_pinned_and_installed_version(distribution, written_for):
    assert written_for == pinned(distribution) == version(distribution)


def test_the_pinned_versions_start():
    check_all()  # raises on a mismatch
    commit_guard.install()  # checks again, then patches (as the worker does)


def test_another_faust_version_is_refused_in_one_line_naming_the_upstream_issue():
    with pytest.raises(PatchedVersionMismatch) as refused:
        require("faust-streaming", "0.16.0", "streams/commit_guard.py", commit_guard.UPSTREAM)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("streams/commit_guard.py patches faust-streaming 0.16.0 internals "
                              "but faust-streaming 0.15.3 is installed: refusing to start.")
    assert "faust-streaming/faust#606" in message and "faust-streaming/faust#707" in message
    assert "faust-streaming==0.16.0" in message


def test_another_aiokafka_version_is_refused():
    with pytest.raises(PatchedVersionMismatch, match=r"^streams/fetch_backoff.py patches "
                       r"aiokafka 0\.13\.0 internals but aiokafka 0\.14\.0 is installed"):
        require("aiokafka", "0.13.0", "streams/fetch_backoff.py", fetch_backoff.REASON)


def test_a_missing_library_is_refused():
    with pytest.raises(PatchedVersionMismatch, match="touchline-no-such-library none is installed"):
        require("touchline-no-such-library", "1.0", "streams/x.py", "nothing")
