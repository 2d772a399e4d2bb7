"""The worker leaves the root logger at its log level: no debug record is built for nothing.

Stock faust.Worker raises the root logger to DEBUG for its terminal spinner
(streams/faust_worker.py); the second test shows that it still does, so the first one means
something.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from touchline.streams.app import app


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, put back as it was afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def _configure_logging(worker_class: type[faust.Worker]) -> None:
    worker = worker_class(app, loglevel="warn", quiet=True)
    worker._setup_logging()  # what the worker does first when it starts (mode.Worker)


def test_touchlines_worker_keeps_the_level_it_was_given(root_logger: logging.Logger) -> None:
    _configure_logging(app.conf.Worker)
    assert root_logger.level == logging.WARNING
    assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
    assert [type(h).__name__ for h in root_logger.handlers if "Spinner" in type(h).__name__] == []


def test_fausts_own_worker_raises_the_root_logger_to_debug(root_logger: logging.Logger) -> None:
    _configure_logging(faust.Worker)
    assert root_logger.level == logging.DEBUG
    assert logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
