"""The base of errors whose message is the whole story for a user: what is wrong, what to do.

`touchline/cli_errors.py` prints such an error as its one line, without a traceback. Raising
modules subclass it here, so the CLI layer needs to import none of them.
"""

from __future__ import annotations


class OneLineError(RuntimeError):
    """A failure whose message is the one line to show (what is wrong and what to do)."""
