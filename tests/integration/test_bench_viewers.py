"""The benchmark's viewers section on a small store: every panel answered, costs attributed.

No timing is asserted (docs/performance.md holds the numbers): a short run over generated rows
must load every dashboard's every panel without an error, count each request once, and read
the store's CPU from the store's own process, for the rounds, for each panel alone and for the
floor (a statement that reads nothing).
"""

from __future__ import annotations

import pytest

from touchline.bench import report, viewers
from touchline.bench.machine import describe
from touchline.dashboards.local.catalog import dashboards

pytestmark = pytest.mark.integration


def test_a_short_viewers_run_answers_every_panel_and_reads_the_stores_cpu(tmp_path):
    result = viewers.run(tmp_path / "store", rows=20_000, viewers=4, rounds=2,
                         log=lambda _line: None)

    catalog = dashboards()
    loaded = [catalog[i % len(catalog)] for i in range(4)]
    assert result["rows"] == 20_000 and result["errors"] == 0
    assert result["requests_per_round"] == sum(len(b.panels) for b in loaded)
    # every request of the timed rounds is counted once, per panel
    assert result["panel_requests"] == 2 * result["requests_per_round"]
    assert {(p["dashboard"], p["panel"]) for p in result["panels"]} == {
        (b.uid, p.title) for b in catalog for p in b.panels}
    assert all(p["requests"] == 2 * sum(b is board for b in loaded)
               for board in catalog for p in result["panels"] if p["dashboard"] == board.uid)
    # the store's CPU is read from its process: nothing is free, not even a statement that
    # reads nothing, and the floor of a round is that floor times its requests over the cores
    assert result["store_cpu_s"] > 0 and result["floor_store_cpu_ms_per_request"] > 0
    assert result["floor_round_ms"] == round(result["floor_store_cpu_ms_per_request"]
                                             * result["requests_per_round"] / result["cores"], 1)
    assert sum(result["alone_store_cpu_ms_per_dashboard"].values()) > 0

    text = "\n".join(report.lines({"machine": describe(), "viewers": result}))
    assert (f"{result['floor_store_cpu_ms_per_request']} ms; x {result['requests_per_round']} "
            f"requests per round / {result['cores']} cores = {result['floor_round_ms']} ms"
            in text)
