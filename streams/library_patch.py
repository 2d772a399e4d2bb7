"""Patches of a library's internals run only on the library version they were written for.

`streams/commit_guard.py` (faust-streaming) and `streams/fetch_backoff.py` (aiokafka) replace
private methods; `streams/recovery_guard.py` reads Faust's recovery state. On any other version
those methods or that state may have changed, and the patch would run half-applied or not at
all without a sign, so each patch checks the installed version when it is installed, and
`touchline worker` checks them all before it starts Faust.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


class PatchedVersionMismatch(RuntimeError):
    """The installed library is not the version a patch of its internals was written for."""


def require(distribution: str, written_for: str, patch: str, upstream: str) -> None:
    """Refuse to go on unless `distribution` is installed at exactly `written_for`.

    Args:
        distribution: the library's distribution name, as pinned in pyproject.toml.
        written_for: the version whose internals the patch replaces.
        patch: the patch module, named in the error.
        upstream: where the defect or the reason for the patch is tracked, named in the error.

    Raises:
        PatchedVersionMismatch: with one line saying what is installed and what to do.
    """
    try:
        installed = version(distribution)
    except PackageNotFoundError:
        installed = "none"
    if installed != written_for:
        raise PatchedVersionMismatch(
            f"{patch} patches {distribution} {written_for} internals but {distribution} "
            f"{installed} is installed: refusing to start. Install {distribution}=="
            f"{written_for} (pyproject.toml), or check the patch against {installed} (see "
            f"{upstream}) and update or delete it")


def check_all() -> None:
    """Check every library patch's version (the worker calls this before Faust starts).

    Raises:
        PatchedVersionMismatch: for the first patch whose library version differs.
    """
    from touchline.streams import commit_guard, fetch_backoff, recovery_guard

    commit_guard.check_version()
    fetch_backoff.check_version()
    recovery_guard.check_version()
