"""Fixtures for the org tests: one real embedded ClickHouse per package, a tenant per test.

The org is loaded as a user loads it (`touchline org load`, in-process through click), and
scenarios insert canonical activity rows with known truth (tests/plan/conftest.py's Scenario).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from tests.plan.conftest import Scenario
from touchline.org.cli import org
from touchline.sinks.clickhouse import ClickHouseSink

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_ORG = EXAMPLES / "org.yaml"


@pytest.fixture(scope="package")  # chdb: one engine path per process at a time
def sink(tmp_path_factory: pytest.TempPathFactory) -> ClickHouseSink:
    data = tmp_path_factory.mktemp("org-chdb")
    s = ClickHouseSink(f"chdb://{data}", database="touchline").start()
    s.ensure_schema()
    yield s
    s.close()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def scenario(sink: ClickHouseSink, tenant: str, now: dt.datetime) -> Scenario:
    return Scenario(sink, tenant, now)


def run_org(sink: ClickHouseSink | None, *args: str) -> Result:
    """`touchline org ...` in-process; never a traceback."""
    result = CliRunner().invoke(org, list(args), obj={"sink": sink} if sink else None)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write_org(path: Path, doc: dict) -> Path:
    """An org YAML file from a document."""
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
