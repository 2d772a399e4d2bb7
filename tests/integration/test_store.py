"""The store process: the query/insert API other processes use while it owns the engine."""

from __future__ import annotations

import datetime as dt

import pytest

from touchline.settings import ClickHouseSettings, Settings
from touchline.sinks.clickhouse import ClickHouseSink
from touchline.sinks.errors import SqlError
from touchline.stack.services import free_port, start_store

pytestmark = pytest.mark.integration


def test_store_answers_queries_with_typed_parameters(tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    sink = ClickHouseSink(settings.store_url()).start()
    try:
        now = dt.datetime(2026, 11, 23, 10, 30, 0, 123000, tzinfo=dt.UTC)
        got = sink.query("SELECT {now:DateTime64(3, 'UTC')} AS t, {n:UInt32} + 1 AS n",
                         {"now": now, "n": 41}).rows
        assert got == [(now.replace(tzinfo=None), 42)]
        local = now.astimezone(dt.timezone(dt.timedelta(hours=2)))  # same instant, other zone
        assert sink.query("SELECT {t:DateTime64(3, 'UTC')}", {"t": local}).scalar() == \
            now.replace(tzinfo=None)
        with pytest.raises(SqlError, match="READONLY|readonly"):
            sink.query("CREATE TABLE touchline.x (a UInt8) ENGINE = Memory")
    finally:
        sink.close()
        store.stop()
