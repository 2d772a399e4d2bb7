"""A child process that dies with the process that started it (Linux PR_SET_PDEATHSIG)."""

from __future__ import annotations

import contextlib
import os


def die_with_parent(death_signal: int, parent: int | None = None) -> None:
    """Signal the calling process when its parent dies, however it dies (`kill -9` included).

    Called in the child: a `preexec_fn`, or a process pool's initializer. `parent` is the pid
    of the process that started it: a parent that died before this call never signals, so the
    child then signals itself at once (a worker killed while its Coach process was starting
    left that process running). Elsewhere than on Linux it does nothing.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(death_signal))
        if parent is not None and os.getppid() != parent:
            os.kill(os.getpid(), death_signal)
