"""One-line errors: what is wrong and what to do, never a traceback.

`OneLineError` is the base of errors whose message is the whole story for a user; raising
modules subclass it here. `friendly` wraps a CLI command so known failures (this base, sink
errors, bad settings, OS errors) end as `Error: ...` and exit code 1; every command group
(touchline/cli/, and the feature groups it mounts) uses it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from touchline.settings import Settings


class OneLineError(RuntimeError):
    """A failure whose message is the one line to show (what is wrong and what to do)."""


class BrokerUnreachable(OneLineError):
    """No Kafka broker answered at the configured address (a CLI client's bootstrap)."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(f"no Kafka broker answers at {bootstrap}: start the stack with "
                         "`touchline up` (or set TOUCHLINE_KAFKA__BOOTSTRAP)")


def friendly(fn: Callable[..., Any], *, passthrough: tuple[type[Exception], ...] = ()
             ) -> Callable[..., Any]:
    """Turn known failures into `Error: ...` and exit code 1, never a traceback.

    `passthrough`: a feature's own error types whose message is already the one line to show.

    Anything unforeseen still ends as one line (its type and message);
    TOUCHLINE_DEBUG=1 lets the traceback through for a bug report.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import logging
        import os

        from pydantic import ValidationError

        from touchline.sinks.errors import MigrationChanged, NoDataYet, SinkUnavailable, SqlError

        # the HTTP driver logs a warning per failed attempt; the error line below says it all
        logging.getLogger("clickhouse_connect").setLevel(logging.ERROR)
        try:
            return fn(*args, **kwargs)
        except (NoDataYet, MigrationChanged) as exc:  # its message says what to run
            raise click.ClickException(str(exc)) from exc
        except SqlError as exc:
            raise click.ClickException(f"ClickHouse rejected the statement: {exc}") from exc
        except SinkUnavailable as exc:
            raise click.ClickException(
                f"cannot reach ClickHouse ({_short_cause(exc)}). Start the stack with "
                "`touchline up`, or set TOUCHLINE_CLICKHOUSE__DSN") from exc
        except (OneLineError, *passthrough) as exc:
            raise click.ClickException(str(exc)) from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise click.ClickException(
                f"invalid setting {where}: {first['msg']} (check TOUCHLINE_* variables / .env)"
            ) from exc
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}") from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("TOUCHLINE_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {_short_cause(exc)} (a bug: rerun with "
                "TOUCHLINE_DEBUG=1 and report the traceback)") from exc

    return wrapper


def settings_or_exit() -> Settings:
    """The settings, or a one-line error naming the bad variable (for every command)."""
    from touchline.settings import get_settings

    return friendly(get_settings)()


def _short_cause(exc: BaseException) -> str:
    """The gist of a (driver) error on one line: 'connection refused at http://...' etc."""
    text = " ".join(str(exc).split())
    lowered = text.lower()
    for needle, gist in (("connection refused", "connection refused"),
                         ("name or service not known", "unknown host"),
                         ("timed out", "timed out"), ("authentication failed", "wrong user or "
                                                      "password")):
        if needle in lowered:
            url = next((w for w in text.split() if w.startswith(("http://", "https://",
                                                                 "(http://", "(https://"))), "")
            where = f" at {url.strip('().,')}" if url else ""
            return gist + where
    return text[:300]
