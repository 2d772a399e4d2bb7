"""Every contender of the benchmark does the job it is measured on, on the real broker.

The hand-tuned pipeline and the framework peers (Quix Streams, Bytewax, a Faust agent per event)
each consume a raw topic of JSONL messages holding valid events, an invalid one and a repeated
one, as `contender.measure` runs them. Each must store every valid event once (its table read
back from its chdb directory after it exits), count the touches through its views, send the
invalid event to the DLQ topic, and report the counts the benchmark checks. A contender that
skipped a step would be measured on less work than touchline does.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.harness import topic_records
from touchline.bench import handtuned, peers
from touchline.bench.contender import Process
from touchline.bench.payloads import events
from touchline.bench.peers import PEERS
from touchline.bench.stack import produce
from touchline.schemas.activity import activity_adapter
from touchline.settings import KafkaSettings, Settings
from touchline.stack.topics_admin import ensure_topics

PARTITIONS = 2
PER_MESSAGE = 3
INVALID = b'{"event_id": "bad-1", "tenant": "acme", "type": "call"}'


def _messages(lines: list[bytes]) -> list[bytes]:
    return [b"\n".join(lines[i:i + PER_MESSAGE]) for i in range(0, len(lines), PER_MESSAGE)]


def _stored_ids(data_dir: Path) -> list[str]:
    """The event ids in the contender's table, read in a process of their own."""
    read = ("import json, sys; from chdb import session; s = session.Session(sys.argv[1]); "
            "print(json.dumps([r[0] for r in json.loads(str(s.query("
            "'SELECT event_id FROM hand.activities ORDER BY event_id', 'JSONCompact')))"
            "['data']]))")
    done = subprocess.run([sys.executable, "-c", read, str(data_dir)], capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


async def _run(name: str, kafka: KafkaSettings, data_dir: Path, warm: list[bytes],
               measured: list[bytes], n_warm: int, n_handled: int) -> dict:
    command = handtuned.COMMAND if name == "hand-tuned" else peers.command(name)
    proc = await Process.start(name, command, kafka, data_dir, PARTITIONS, PER_MESSAGE, n_warm,
                               n_handled)
    try:
        await produce(kafka, warm)
        assert "warm_monotonic" in await proc.line(300)
        await produce(kafka, measured)
        done = await proc.line(300)
        await proc.finish()
        return done
    finally:
        await proc.kill()


@pytest.mark.integration
@pytest.mark.parametrize("name", ["hand-tuned", *PEERS])
def test_the_contender_stores_each_event_once_and_dead_letters_the_invalid(
        kafka_bootstrap: str, tmp_path: Path, name: str) -> None:
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap=kafka_bootstrap, raw_topic=f"job-{tag}.raw",
                          activities_topic=f"job-{tag}.act", dlq_topic=f"job-{tag}.dlq",
                          partitions=PARTITIONS)
    ensure_topics(Settings(kafka=kafka))
    valid = events(61, seed=3)  # simulator events, each id once
    warm, later = valid[:12], valid[12:]
    # the invalid event and a repeat of a measured one, among the measured messages
    measured = later[:20] + [INVALID] + later[20:40] + [later[3]] + later[40:]
    assert len(measured) % PER_MESSAGE == 0
    done = asyncio.run(_run(name, kafka, tmp_path / "chdb", _messages(warm),
                            _messages(measured), len(warm), len(later) + 1))

    assert done["events"] == len(later) + 1  # rows and the dead letter; not the repeat
    assert done["rows"] == len(later)
    assert done["events_read"] >= len(measured)
    ids = sorted(activity_adapter.validate_json(e).event_id for e in valid)
    assert _stored_ids(tmp_path / "chdb") == ids
    touches = sum(1 for e in valid if activity_adapter.validate_json(e).is_touch)
    assert 0 < done["touches"] == touches
    assert [r.value for r in topic_records(kafka, kafka.dlq_topic)] == [INVALID]
