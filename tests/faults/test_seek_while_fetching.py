"""The commit guard's seek against aiokafka fetching in its own thread, the race made certain.

Faust runs aiokafka in a thread of its own, with its own event loop, and a fetch there is
`Fetcher.fetched_records` (faust's `AIOKafkaConsumerThread._fetch_records`). The guard's seek
used to reach aiokafka from Faust's main thread (Faust's `Consumer.seek`), and a worker died
with `KeyError` in `aiokafka/consumer/fetcher.py` when it landed inside a fetch. Here a real
aiokafka consumer fetches real messages from the test broker in its own thread; the fetch
holds still right after taking a partition's records, until a seek is made or a second has
passed, so the seek lands inside the fetch whenever it can.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import FetchResult
from faust.types import TP
from kafka.admin import NewTopic

from touchline.load.produce import producer
from touchline.settings import KafkaSettings, Settings
from touchline.stack.topics_admin import admin, delete_topics
from touchline.streams import commit_guard

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MESSAGES = 200
SEEK_TO = 50


class ConsumerThread(threading.Thread):
    """aiokafka's consumer fetching in a loop in a thread of its own, as Faust runs it.

    `call_thread` runs a function in that thread's loop and hands back its result, as the
    method queue of Faust's consumer thread does; `_ensure_consumer` is the aiokafka consumer.
    """

    def __init__(self, bootstrap: str, tp: TP) -> None:
        super().__init__(name="consumer-thread", daemon=True)
        self.bootstrap, self.tp = bootstrap, tp
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopping = False
        self.fetch_error: BaseException | None = None
        #: every fetched offset, in fetch order
        self.fetched: list[int] = []
        self.consumer: AIOKafkaConsumer | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._fetch_until_stopped())

    async def _fetch_until_stopped(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap,
                                         enable_auto_commit=False,
                                         auto_offset_reset="earliest")
        await self.consumer.start()
        self.consumer.assign([self.tp])
        self.ready.set()
        try:
            fetcher = self.consumer._fetcher
            while not self.stopping:
                with fetcher._subscriptions.fetch_context():  # as Faust's _fetch_records
                    records = await fetcher.fetched_records({self.tp}, timeout=0.2)
                self.fetched.extend(r.offset for rs in records.values() for r in rs)
        except Exception as exc:  # the outcome under test
            self.fetch_error = exc
        finally:
            await self.consumer.stop()

    def _ensure_consumer(self) -> AIOKafkaConsumer:
        assert self.consumer is not None
        return self.consumer

    async def call_thread(self, fun: Callable[..., Any], *args: Any) -> Any:
        async def call() -> Any:
            result = fun(*args)
            return await result if inspect.isawaitable(result) else result

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))

    def stop(self) -> None:
        self.stopping = True
        self.join(10)


@pytest.fixture
def fetching(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A topic of MESSAGES messages, a consumer thread fetching it, and the fetch's hold."""
    settings = Settings(kafka=KafkaSettings(bootstrap=kafka_bootstrap, embedded=False))
    topic = f"seek-race-{uuid.uuid4().hex[:8]}"
    client = admin(settings)
    try:
        client.create_topics([NewTopic(topic, 1, 1)])
    finally:
        client.close()
    send = producer(settings)
    for i in range(MESSAGES):
        send.send(topic, f"event {i}".encode(), partition=0)
    send.flush()
    send.close()

    hold = SimpleNamespace(inside=threading.Event(), seek_made=threading.Event(), armed=True)
    take_records = FetchResult.getall

    def getall(self: FetchResult, max_records: int | None = None) -> list:
        records = take_records(self, max_records)
        if records and hold.armed and threading.current_thread().name == "consumer-thread":
            hold.armed = False
            hold.inside.set()  # inside fetched_records, the partition's records in hand
            hold.seek_made.wait(1.0)
        return records

    monkeypatch.setattr(FetchResult, "getall", getall)
    thread = ConsumerThread(kafka_bootstrap, TP(topic, 0))
    thread.start()
    assert thread.ready.wait(30), "the consumer did not start"
    yield thread, hold
    thread.stop()
    delete_topics(settings, [topic])


def test_a_seek_from_the_main_thread_breaks_the_fetch(fetching):
    """How it was: Faust's `Consumer.seek` calls aiokafka's `seek` from the main thread."""
    thread, hold = fetching
    assert hold.inside.wait(30), "nothing was fetched"
    thread._ensure_consumer().seek(thread.tp, SEEK_TO)  # ThreadDelegateConsumer._seek
    hold.seek_made.set()
    thread.join(10)
    assert isinstance(thread.fetch_error, KeyError)


def test_the_guards_seek_waits_for_the_fetch_and_then_takes_effect(fetching):
    thread, hold = fetching
    tp = thread.tp
    consumer = SimpleNamespace(  # what perform_seeks reads of Faust's consumer
        flow_active=True, app=SimpleNamespace(rebalancing=False),
        _committed_offset={tp: SEEK_TO}, _read_offset={}, _thread=thread)
    assert hold.inside.wait(30), "nothing was fetched"
    commit_guard._to_seek[tp] = (SEEK_TO, SEEK_TO)
    done = asyncio.run(commit_guard.perform_seeks(consumer))
    hold.seek_made.set()
    assert done == {tp: SEEK_TO}
    assert consumer._read_offset == {tp: SEEK_TO}
    again = list(range(SEEK_TO, MESSAGES))  # what the seek reads once more

    def read_again() -> bool:
        return len(thread.fetched) > MESSAGES and thread.fetched[-len(again):] == again

    deadline = time.monotonic() + 30
    while not read_again() and time.monotonic() < deadline and thread.fetch_error is None:
        time.sleep(0.1)
    assert thread.fetch_error is None
    assert thread.is_alive()
    # every message fetched, then from the seek's offset on once more, in order
    assert set(thread.fetched) == set(range(MESSAGES))
    assert read_again(), thread.fetched
