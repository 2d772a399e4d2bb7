"""Stream-processing frameworks doing the benchmark's job beside touchline: the `peers` section.

Each peer is a process of its own running `touchline.bench.job` on its framework, measured by
`contender.measure` exactly as the hand-tuned pipeline is: the same messages, the same
producer, its rows and touch counts checked. Quix Streams and Bytewax run in an environment of
their own (`environment.py`); the Faust peer in touchline's, which has Faust.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Peer:
    """One framework peer: its label in the table, its module, where it runs."""

    label: str
    module: str
    own_environment: bool


PEERS = {
    "quix": Peer("Quix Streams 3.28.1", "touchline.bench.peers.quix", True),
    "bytewax": Peer("Bytewax 0.21.1", "touchline.bench.peers.bytewax_flow", True),
    "faust": Peer("one Faust agent per event with Tables", "touchline.bench.peers.faust_tables",
                  False),
}


async def measure(name: str, root: Path, bootstrap: str, messages: list[bytes],
                  warm: list[bytes], per_message: int, partitions: int = 4) -> dict[str, Any]:
    """The peer's rate and CPU on `messages` (the run's result, with the peer's name)."""
    from touchline.bench import contender

    result = await contender.measure(name, command(name), root, bootstrap, messages, warm,
                                     per_message, partitions)
    return {"peer": name, "label": PEERS[name].label, **result}


def command(name: str) -> list[str]:
    """The command of the peer's process (its environment made first, when it has one)."""
    from touchline.bench.peers import environment

    peer = PEERS[name]
    python = environment.interpreter() if peer.own_environment else Path(sys.executable)
    return [str(python), "-W", "ignore", "-m", peer.module]
