"""Truth computed from the input itself: which lines must become rows, which go to the DLQ."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from touchline.load.simulator import Anomalies, Simulator
from touchline.schemas.activity import parse_activity


@dataclass
class Truth:
    payloads: list[bytes]
    unique_valid: set[str]
    touches: int
    invalid: int
    touch_ids: frozenset[str] = frozenset()
    invalid_payloads: tuple[bytes, ...] = ()

    @property
    def duplicates(self) -> int:
        return len(self.payloads) - self.invalid - len(self.unique_valid)


def simulated(n: int, seed: int = 11, malformed: float = 0.01, duplicates: float = 0.05,
              out_of_order: float = 0.05) -> Truth:
    """n simulator payloads over the last day, none late (lateness 7 days), and their truth."""
    sim = Simulator(seed=seed, tenant="sim", anomalies=Anomalies(
        duplicates=duplicates, out_of_order=out_of_order, late=0.0, malformed=malformed))
    start = datetime.now(UTC) - timedelta(minutes=10)
    return truth_of(list(itertools.islice(sim.payloads(start, 1000.0, history_days=1.0), n)))


def truth_of(payloads: list[bytes]) -> Truth:
    """The truth of any list of payloads (one event each), e.g. what a broker still holds."""
    valid: dict[str, bool] = {}
    rejected: list[bytes] = []
    for raw in payloads:
        try:
            event = parse_activity(raw)
        except ValidationError:
            rejected.append(raw)
            continue
        valid[event.event_id] = event.is_touch
    return Truth(payloads, set(valid), sum(valid.values()), len(rejected),
                 frozenset(i for i, touch in valid.items() if touch), tuple(rejected))
