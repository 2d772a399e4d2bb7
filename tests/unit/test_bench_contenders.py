"""The benchmark's contenders: the hand-tuned baseline's job, the edge's signed requests, the table.

No timing is asserted: the report is fed fixed numbers and must draw the right conclusions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from touchline.bench import report
from touchline.bench.edge import SECRETS, signed_requests, wrk_script
from touchline.bench.handtuned import Batch

BASE = "http://127.0.0.1:28999"
EVENT = {"event_id": "e-1", "tenant": "acme", "type": "call",
         "occurred_at": "2026-12-04T10:00:00+00:00", "source": "simulator", "rep_id": "r1",
         "team_id": "t1", "account_id": "a1", "direction": "outbound", "outcome": "connected"}


def test_the_baseline_validates_dead_letters_and_drops_duplicates():
    batch, seen = Batch(), set()
    good = orjson.dumps(EVENT)
    batch.add(good, 0, 10, seen)
    batch.add(good, 0, 11, seen)  # same tenant|event_id
    batch.add(orjson.dumps(dict(EVENT, event_id="e-2", tenant="other")), 1, 12, seen)
    batch.add(b'{"event_id": "e-3"}', 0, 13, seen)  # no tenant, type, ...
    table = batch.table()
    assert batch.events == 4
    assert table.num_rows == 2
    assert table.column("event_id").to_pylist() == ["e-1", "e-2"]
    assert table.column("is_touch").to_pylist() == [1, 1]
    assert table.column("kafka_offset").to_pylist() == [10, 12]
    assert batch.dead == [b'{"event_id": "e-3"}']


def _verify(path: str, body: bytes, headers: dict[str, str]) -> bool:
    """Each vendor's documented recipe, written out here (not the module under test)."""
    if path.endswith("hubspot"):
        source = (b"POST" + (BASE + path).encode() + body
                  + headers["X-HubSpot-Request-Timestamp"].encode())
        digest = hmac.new(SECRETS["hubspot_client_secret"].encode(), source, hashlib.sha256)
        return base64.b64encode(digest.digest()).decode() == headers["X-HubSpot-Signature-v3"]
    digest = hmac.new(SECRETS["outreach_secret"].encode(), body, hashlib.sha256).hexdigest()
    return digest == headers["Outreach-Webhook-Signature"]


def test_edge_requests_are_signed_as_each_vendor_signs_them_and_all_differ():
    reqs = signed_requests(BASE, 30)
    assert {p for p, _, _ in reqs} == {"/webhooks/hubspot", "/webhooks/outreach"}
    assert all(_verify(*r) for r in reqs)
    assert len({body for _, body, _ in reqs}) == 30
    tampered = (reqs[2][0], reqs[2][1] + b" ", reqs[2][2])
    assert not _verify(*tampered)


def test_the_wrk_script_carries_every_request_with_its_host():
    reqs = signed_requests(BASE, 6)
    script = wrk_script(reqs, "127.0.0.1:28999")
    assert script.count("wrk.format(") == 6
    assert script.count("[==[127.0.0.1:28999]==]") == 6
    for _, body, headers in reqs:
        assert f"[==[{body.decode()}]==]" in script
        assert all(f"[==[{v}]==]" in script for v in headers.values())


def _results(hand: dict[str, float], touchline: dict[str, float], edge_rps: int) -> dict:
    return {
        "machine": {"cores": 2, "ram_gb": 23.5, "cpu_model": "test", "python": "3.11"},
        "handtuned": [{"framing": f, "events_per_s": v, "events_per_message": 200 if f == "batch"
                       else 1, "cpu_us_per_event": {"hand-tuned": 10.0}}
                      for f, v in hand.items()],
        "e2e": [{"framing": f, "events_per_s": v, "events_per_s_per_worker": v, "workers": 1,
                 "partitions": 4, "events_per_message": 200 if f == "batch" else 1,
                 "peak_rss_mb": [1.0], "cpu_us_per_event": {"worker-1": 20.0},
                 "cpu_cores_used": {"worker-1": 0.9}} for f, v in touchline.items()],
        "edge": {"requests_per_s": edge_rps, "connections": 64, "ok": 1, "latency_ms": {},
                 "stored_on_broker": 1, "cpu_us_per_request": {"serve": 150.0}},
    }


def test_the_report_gives_ratios_to_the_baseline_and_judges_each_target():
    text = "\n".join(report.lines(_results({"batch": 100_000, "single": 40_000},
                                           {"batch": 85_000, "single": 19_999}, 5_000)))
    assert "0.85 x hand-tuned" in text
    assert ">= 0.8 x hand-tuned: MET" in text
    assert "0.50 x hand-tuned" in text
    assert ">= 20,000/worker: not met" in text
    assert ">= 5,000/s: MET" in text


def test_the_report_says_not_met_below_the_ratio_and_the_edge_target():
    text = "\n".join(report.lines(_results({"batch": 100_000}, {"batch": 79_000}, 4_999)))
    assert ">= 0.8 x hand-tuned: not met" in text
    assert ">= 5,000/s: not met" in text
    assert "one event per message" not in text


def _peer(name: str, framing: str, rate: int) -> dict:
    return {"peer": name, "label": f"{name} 1.0", "framing": framing, "events_per_s": rate,
            "events": 1000, "events_per_message": 200 if framing == "batch" else 1,
            "cpu_us_per_event": {name: 50.0, "broker": 5.0}}


def test_the_peers_are_rated_beside_the_baseline_and_touchline_against_the_fastest():
    results = _results({"batch": 100_000, "single": 40_000},
                       {"batch": 50_000, "single": 21_000}, 5_000)
    results["peers"] = [_peer("quix", "batch", 30_000), _peer("bytewax", "batch", 20_000),
                        _peer("quix", "single", 9_000), _peer("bytewax", "single", 10_000)]
    text = "\n".join(report.lines(results))
    assert "JSONL batches (200 per message): quix 1.0" in text
    assert "30,000 ev/s, 0.30 x hand-tuned" in text
    assert "CPU us/event: quix 50.0, broker 5.0; 1,000 events" in text
    assert "1.67 x quix 1.0" in text  # 50,000 against the faster batch peer
    assert "2.10 x bytewax 1.0" in text  # 21,000 against the faster single peer
    assert ">= 20,000/worker: MET; >= 2 x the best peer: MET" in text
    results["peers"][-1]["events_per_s"] = 10_501
    assert ">= 2 x the best peer: not met" in "\n".join(report.lines(results))


def test_the_freshness_lines_judge_the_p99_and_say_what_the_machine_spent():
    results = _results({"batch": 100_000}, {"batch": 50_000}, 5_000)
    results["broker"] = "noida-db"
    results["freshness"] = {
        "rate_events_per_s": 25_000, "p50_s": 0.41, "p95_s": 0.62, "p99_s": 1.02,
        "max_lag_by_second_s": [0.5] * 30, "slowest_1pct_sent_at_s": [28, 29],
        "cpu_cores_used": {"store": 0.61, "worker-1": 0.55, "broker": 0.12}}
    text = "\n".join(report.lines(results))
    assert "p99 1.02s" in text and "target p99 < 1 s: not met" in text
    assert "28, 29" in text and "of 30; broker: noida-db; plan: none in force" in text
    assert "store 0.61, worker-1 0.55, broker 0.12" in text and "of 2" in text


def test_a_bad_plan_file_stops_the_bench_with_one_line(tmp_path):
    from click.testing import CliRunner

    from touchline.bench.cli import bench

    bad = tmp_path / "plan.yaml"
    bad.write_text("tenant: acme\nstages: [\n")
    result = CliRunner().invoke(bench, ["--only", "freshness", "--plan", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith(f"bench failed: {bad}: ")
    assert "Traceback" not in result.output
