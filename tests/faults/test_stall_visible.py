"""Invariant: a stall shows within seconds on the progress line, the ops panel and the alert.

The progress line: the lag `touchline up` prints comes from the broker's own offsets
(committed by the workers' group vs the topics' end), not from what the workers managed to
report to ClickHouse: during a store outage the workers write nothing (not even
`pipeline_metrics`, which used to make the line read `lag 0`), messages wait, no offset moves,
and the line reads `STALLED`. When the store is back, the same reading drains to 0 by itself.

The alert "Pipeline stalled", as provisioned (dashboards/provisioning/alerting/rules.yaml),
evaluated through `touchline alerts check`'s evaluator at its group's interval with its pending
period, error and no-data states, as Grafana's scheduler does: it stays quiet while the
pipeline idles and while it keeps up with a load; it fires within STALL_VISIBLE_WITHIN_S of
the stall's start when recording stops while messages wait (ClickHouse refuses the activity
inserts and keeps answering queries: the workers go on reporting, nothing moves) and when
ClickHouse stops answering at all (the rule's query fails); it resolves once the workers catch
up. The ops panel shows the stall from the same query and lists the stalled partitions.
Real broker, store and worker.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.expectations import simulated
from tests.faults.test_outages import outage
from tests.integration.test_restart import produce_in_background, wait_all_rows
from touchline.dashboards import build
from touchline.dashboards.local.alerts_check import RuleResult, evaluate
from touchline.dashboards.local.catalog import dashboard
from touchline.dashboards.local.sqlcheck import expanded
from touchline.stack.embedded import Progress, progress_line
from touchline.stack.pipeline_watch import LagWatch

pytestmark = [pytest.mark.integration, pytest.mark.faults]

RULE_UID = "touchline-pipeline-freshness"
#: the issue's "within seconds": from the moment recording stops (or ClickHouse stops
#: answering) to the alert firing, evaluated at the rule group's own cadence
STALL_VISIBLE_WITHIN_S = 40.0
RULES_FILE = Path(build.ROOT) / "provisioning/alerting/rules.yaml"


def _seconds(duration: str) -> float:
    """A Grafana duration ("10s", "1m", "1h", "0s") in seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", duration)))


@dataclass
class ScheduledRule:
    """One provisioned rule as Grafana's scheduler runs it: every group interval, the rule's
    pending period before Alerting, its no-data and error states (execErrState Alerting: a
    failing query counts as a breach; Error: Grafana's separate DatasourceError alert, not this
    rule's)."""

    rule: dict[str, Any]
    group: str
    interval_s: float
    pending_s: float
    next_at: float = field(default_factory=time.monotonic)
    breached_since: float | None = None

    @classmethod
    def provisioned(cls, uid: str, rules_doc: dict[str, Any]) -> ScheduledRule:
        for group in rules_doc["groups"]:
            for rule in group["rules"]:
                if rule["uid"] == uid:
                    return cls(rule, group["name"], _seconds(group["interval"]),
                               _seconds(rule["for"]))
        raise LookupError(uid)

    def tick(self, sink) -> tuple[str, RuleResult]:
        """Wait for the next scheduled evaluation, run it: Normal, Pending or Alerting."""
        time.sleep(max(0.0, self.next_at - time.monotonic()))
        at, self.next_at = self.next_at, self.next_at + self.interval_s
        result = evaluate(sink, self.rule, self.group)
        breached = (self.rule["execErrState"] == "Alerting" if result.error
                    else bool(result.firing))
        if not breached:
            self.breached_since = None
            return "Normal", result
        if self.breached_since is None:
            self.breached_since = at
        return ("Alerting" if at - self.breached_since >= self.pending_s else "Pending"), result


def _quiet_for(rule: ScheduledRule, p, what: str, evaluations: int = 0,
               while_running: Any = None) -> None:
    """Normal at `evaluations` evaluations, or at every one while `while_running` runs."""
    values = []
    while len(values) < evaluations or (while_running and while_running.is_alive()):
        state, result = rule.tick(p.sink)
        assert state == "Normal" and not result.error, (what, state, result)
        values.append(_ops_panel(p, "Without progress")[0][0])
    assert values, f"no evaluation while {what}"
    print(f"{what}: Normal at {len(values)} evaluations, without progress {values} s")


def _fires(rule: ScheduledRule, sink, since: float) -> tuple[float, RuleResult]:
    """Evaluate until Alerting; the seconds from `since`, and the firing evaluation."""
    while True:
        state, result = rule.tick(sink)
        took = time.monotonic() - since
        if state == "Alerting":
            return took, result
        assert took <= STALL_VISIBLE_WITHIN_S, (
            f"not firing {took:.0f} s after the stall started (state {state}, value "
            f"{[f.value for f in result.firing]}, error {result.error!r})")


def _resolves(rule: ScheduledRule, sink, timeout_s: float) -> float:
    started = time.monotonic()
    while True:
        state, result = rule.tick(sink)
        if state == "Normal" and not result.error:
            return time.monotonic() - started
        assert time.monotonic() - started <= timeout_s, ("still", state, result)


def _ops_panel(p, title: str) -> list[tuple]:
    panel = next(x for x in dashboard("touchline-ops").panels if x.title == title)
    return p.sink.query(expanded(panel, {"tenant": "sim"})).rows


def _utc(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _split(payloads: list[bytes], *sizes: int) -> list[list[bytes]]:
    """Consecutive slices of these sizes, then the rest."""
    out, at = [], 0
    for n in sizes:
        out.append(payloads[at:at + n])
        at += n
    return [*out, payloads[at:]]


def run_stall_scenario(p, truth, rules_doc: dict[str, Any]) -> None:
    """Idle, busy, recording blocked, recovered, ClickHouse away, recovered: the rule's states."""
    rule = ScheduledRule.provisioned(RULE_UID, rules_doc)
    first, busy, blocked, away = _split(truth.payloads, 2_000, 9_000, 3_000)
    p.produce(first)
    p.wait_rows("activities", 500)
    p.wait_settled()
    raw = p.settings.kafka.raw_topic

    # idle: the workers report every second, nothing waits: not a stall
    _quiet_for(rule, p, "idle", evaluations=3)
    # busy: messages keep arriving (250 events/s for 36 s) and are recorded as they come
    producer = produce_in_background(p, busy, rate=250)
    _quiet_for(rule, p, "keeping up with a load", while_running=producer)
    producer.join(120)
    assert producer.error is None, producer.error

    # recording stops while ClickHouse answers queries: every activity insert is refused as
    # transient (TOO_MANY_PARTS) and retried; the workers go on reporting, nothing moves
    p.sink.command("ALTER TABLE touchline.activities MODIFY SETTING parts_to_throw_insert = 1")
    stalled_at = time.monotonic()
    wall_stalled_at = dt.datetime.now(dt.UTC)
    p.produce(blocked)
    took, result = _fires(rule, p.sink, stalled_at)
    print(f"recording blocked: '{result.title}' fires {took:.1f} s after the stall started")
    if result.firing:  # the query answered: the summary says for how long nothing moved
        (firing,) = result.firing
        assert firing.value and firing.value > 0
        assert f"recorded nothing for {firing.value:.4g} s" in firing.summary
        assert "Stalled partitions" in firing.action
    # the ops panel: the same number, and which partitions wait since when
    (without_progress,) = _ops_panel(p, "Without progress")[0]
    assert without_progress >= _seconds("15s")
    stalled = _ops_panel(p, "Stalled partitions")
    assert {row[0] for row in stalled} >= {raw}, stalled
    assert max(row[4] for row in stalled) >= _seconds("15s")
    for topic, _partition, waiting, since, seconds, _last in stalled:
        if topic == raw:  # since the last report before the new messages came
            assert waiting > 0 and seconds > 0
            assert abs(_utc(since) - wall_stalled_at) < dt.timedelta(seconds=10), since

    p.sink.command("ALTER TABLE touchline.activities RESET SETTING parts_to_throw_insert")
    took = _resolves(rule, p.sink, 120)
    print(f"recording unblocked: resolved after {took:.1f} s")
    p.wait_settled()

    # ClickHouse stops answering: the rule's query fails, which must fire it too, and the
    # progress line of `touchline up` (lag from the broker's own offsets, not from what the
    # workers could report) reads STALLED, never `lag 0`
    watch = LagWatch(p.settings, stall_after_s=3.0)
    try:
        settled = watch.read()
        assert settled.waiting == 0 and not settled.stalled, settled
        outage(p, 30)
        stalled_at = time.monotonic()
        p.produce(away)
        took, result = _fires(rule, p.sink, stalled_at)
        print(f"store away: '{result.title}' fires {took:.1f} s after the outage started "
              f"({result.error or 'query answered'})")
        reading = watch.read()
        assert reading.stalled and reading.waiting and reading.waiting > 0, reading
        line = progress_line(Progress(lag=reading), 0.0)
        assert "STALLED" in line and f"{reading.waiting:,} waiting" in line
        assert "lag 0" not in line
        took = _resolves(rule, p.sink, 180)
        print(f"store back: resolved after {took:.1f} s")
        p.wait_settled()
        # caught up by itself: the same reading drains to 0
        deadline = time.monotonic() + 60
        while (reading.waiting or reading.stalled) and time.monotonic() < deadline:
            time.sleep(1.0)
            reading = watch.read()
        assert reading.waiting == 0 and not reading.stalled, reading
    finally:
        watch.close()
    _quiet_for(rule, p, "caught up again", evaluations=2)


def test_the_stall_alert_fires_within_seconds_and_only_on_a_stall(pipeline_factory):
    rules_doc = yaml.safe_load(RULES_FILE.read_text())
    run_stall_scenario(pipeline_factory(), simulated(17_000, seed=7), rules_doc)


def test_reported_lag_is_the_brokers_backlog_while_fetching_waits(pipeline_factory):
    """Invariant: the lag a worker reports (`pipeline_metrics`, the ops panels, `wait_settled`)
    is what the broker holds past the group's committed offsets, message for message, also
    while the worker's fetches wait.

    Recording stops (ClickHouse refuses the activity inserts): the worker's batches wait for
    ClickHouse, its bulk queue fills (a small `max_message_bytes` makes that queue 1 MiB), its
    fetch loop waits for room, and the consumer learns no new highwater: it sees one only in
    its own fetch responses. A report that took the consumer's highwater showed the backlog as
    it was at the last fetch, and a partition never fetched (one a dead worker left behind) as
    lag 0. Messages produced after the fetches stopped must show too.
    """
    truth = simulated(40_000, seed=9)
    first, backlog, later = _split(truth.payloads, 2_000, 30_000)
    p = pipeline_factory(max_message_bytes=256 * 1024)
    raw = p.settings.kafka.raw_topic
    p.produce(first)
    p.wait_rows("activities", 500)
    p.wait_settled()

    def reported() -> dict[str, int]:
        return {f"{raw}[{n}]": lag for n, lag in p.rows(
            "SELECT partition, argMax(lag, ts) FROM {db}.pipeline_metrics WHERE topic = {t:String}"
            " AND ts > now64(3) - INTERVAL 3 SECOND GROUP BY partition", t=raw)}

    def broker() -> dict[str, int]:
        behind = {name: end - committed for name, (committed, end) in p.uncommitted().items()}
        return {f"{raw}[{n}]": behind.get(f"{raw}[{n}]", 0)
                for n in range(p.settings.kafka.partitions)}

    p.sink.command("ALTER TABLE touchline.activities MODIFY SETTING parts_to_throw_insert = 1")
    try:
        p.produce(backlog)
        time.sleep(5)  # the worker fetches until its queue is full, then its fetch loop waits
        p.produce(later)
        want = broker()
        assert sum(want.values()) >= (len(backlog) + len(later)) // 200, want  # all waiting
        seen: dict[str, dict[str, int]] = {}

        def matches() -> bool:
            seen["reported"] = reported()
            return seen["reported"] == want

        try:
            p.wait_until(matches, 30, "the reported lag to be the broker's backlog")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: broker {want}, reported {seen.get('reported')}") \
                from None
        assert broker() == want  # nothing was recorded or committed meanwhile
    finally:
        p.sink.command("ALTER TABLE touchline.activities RESET SETTING parts_to_throw_insert")
    wait_all_rows(p, truth.unique_valid, 180, "all rows once recording resumes")
    p.wait_settled()
    assert reported() == dict.fromkeys(want, 0)
