"""A child process that dies with the process that started it (Linux PR_SET_PDEATHSIG)."""

from __future__ import annotations

import contextlib


def die_with_parent(death_signal: int) -> None:
    """Signal the calling process when its parent dies, however it dies (`kill -9` included).

    Called in the child: a `preexec_fn`, or a process pool's initializer. Elsewhere than on
    Linux it does nothing.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(death_signal))
