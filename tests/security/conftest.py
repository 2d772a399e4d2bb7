"""Fixtures of the security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from touchline.sinks.clickhouse import ClickHouseSink


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseSink]:
    """A real embedded engine with the touchline schema, for one module (one chdb path per
    process at a time: it is closed when the module ends)."""
    sink = ClickHouseSink(f"chdb://{tmp_path_factory.mktemp('security-ch')}").start()
    sink.ensure_schema()
    yield sink
    sink.close()
