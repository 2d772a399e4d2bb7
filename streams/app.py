"""The faust.App, nothing else. Broker and tuning come from settings in the on_configured hook.

Agents live in streams/agents/, one per file, found by autodiscovery; importing this module
reads no environment and opens no connection.
"""

from __future__ import annotations

from typing import Any

import faust

app = faust.App(
    "touchline",
    autodiscover=["touchline.streams.agents"],
    origin="touchline.streams",
    Worker="touchline.streams.faust_worker:Worker",  # no spinner: see that module
)


@app.on_configured.connect
def configure(app: faust.App, conf: Any, **kwargs: Any) -> None:
    """Fill broker URL, app id and tuning from the one settings object."""
    from touchline.settings import get_settings
    from touchline.streams import commit_guard
    from touchline.streams.fetch_backoff import install

    settings = get_settings()
    install(settings.kafka.empty_fetch_backoff_ms / 1000, settings.kafka.fetch_max_wait_ms)
    commit_guard.install()
    if settings.pipeline.recovery_guard_drill:
        from touchline.streams import recovery_guard

        recovery_guard.install_drill()
    conf.id = settings.faust_app_id
    conf.broker = f"kafka://{settings.kafka.bootstrap}"
    conf.store = "memory://"
    conf.datadir = str(settings.data_dir.resolve() / "faust")
    conf.topic_partitions = settings.kafka.partitions
    conf.topic_replication_factor = settings.kafka.replication_factor
    conf.topic_allow_declare = True
    conf.web_enabled = False
    conf.consumer_auto_offset_reset = "earliest"
    # offsets: committed in batches (noida-db rewrites its store on every commit)
    conf.broker_commit_every = 10_000
    conf.broker_commit_interval = 1.0
    if settings.kafka.static_membership:
        conf.consumer_group_instance_id = f"{settings.faust_app_id}-{settings.worker_id}"
    conf.broker_session_timeout = 10.0
    conf.broker_heartbeat_interval = 1.0
    conf.broker_rebalance_timeout = 30.0
    conf.stream_buffer_maxsize = 16_384
    # a stop first waits for every message in work (Faust's default, kept on purpose): the
    # cleanup of a stopping stream's take() acknowledges what it handed over, written or not,
    # and the consumer commits on its way out (tests/faults/test_stop_while_waiting.py)
    conf.stream_wait_empty = True
    conf.consumer_max_fetch_size = 4 * 1024 * 1024
    conf.producer_max_request_size = settings.pipeline.max_message_bytes + 1024 * 1024
    conf.producer_acks = -1
    conf.producer_compression_type = settings.kafka.compression_type
    conf.table_cleanup_interval = 60.0
    conf.worker_redirect_stdouts = False
