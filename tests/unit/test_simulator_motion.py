"""The simulator's sales motions and product lines (no services: pure event generation)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime

from touchline.load.simulator import PRODUCT_LINES, Anomalies, Simulator
from touchline.schemas.activity import parse_activity

CLEAN = Anomalies(duplicates=0.0, out_of_order=0.0, late=0.0, malformed=0.0)
START = datetime(2026, 11, 20, tzinfo=UTC)


def _events(seed: int, n: int = 20_000) -> tuple[Simulator, list]:
    sim = Simulator(seed=seed, anomalies=CLEAN)
    payloads = list(itertools.islice(sim.payloads(START, 100.0, history_days=10), n))
    return sim, [parse_activity(p) for p in payloads]


def test_motions_follow_the_account_and_the_deal():
    sim, events = _events(7)
    customers = sim.org.customers
    assert 0 < len(customers) < len(sim.org.accounts)
    deals: dict[str, set[tuple[str | None, str | None]]] = defaultdict(set)
    seen = defaultdict(int)
    for e in events:
        assert e.motion in ("acquisition", "retention", "upsell")
        assert e.product_line in PRODUCT_LINES
        seen[e.motion] += 1
        if e.cadence_id or e.type in ("lead", "disposition"):  # cold and inbound prospects
            assert e.motion == "acquisition" and e.account_id not in customers
        if e.opportunity_id:
            deals[e.opportunity_id].add((e.motion, e.product_line))
        elif e.motion != "acquisition":  # renewal / upsell touches: customers only
            assert e.account_id in customers
            owned = customers[e.account_id]
            if e.motion == "retention":
                assert e.product_line in owned
            elif len(owned) < len(PRODUCT_LINES):
                assert e.product_line not in owned
    assert all(seen[m] > 100 for m in ("acquisition", "retention", "upsell")), seen
    assert deals and all(len(tags) == 1 for tags in deals.values())  # one motion per deal
    motions = {next(iter(tags))[0] for tags in deals.values()}
    assert motions == {"acquisition", "retention", "upsell"}


def test_same_seed_same_events_other_seed_other_labels():
    _, a = _events(3, 3000)
    _, b = _events(3, 3000)
    _, c = _events(4, 3000)
    assert a == b
    assert [(e.motion, e.product_line) for e in a] != [(e.motion, e.product_line) for e in c]
