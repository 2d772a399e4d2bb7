"""Errors the sink raises, so callers can tell 'retry later' from 'your SQL is wrong'."""


class SinkError(Exception):
    """Base of sink errors."""


class SinkUnavailable(SinkError):
    """The engine cannot be reached or opened right now: retry with back-off."""


class SqlError(SinkError):
    """ClickHouse rejected the statement (syntax, unknown column, readonly, ...)."""


class NoDataYet(SinkError):
    """There is nothing to read yet: no database (nothing was ever written). Not an outage."""


class MigrationChanged(SinkError):
    """A migration this store applied has changed since: its message names it and what to run."""
