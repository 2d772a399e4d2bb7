"""`touchline signals list|evaluate` and the worker's evaluate_signals timer."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from touchline.plan.rules import IN_TURN, KINDS

pytestmark = pytest.mark.integration

H = dt.timedelta(hours=1)


def _lead_over_sla(s):
    s.load_plan()
    s.account("acc-a", "A", "smb")
    real_now = dt.datetime.now(dt.UTC)
    s.add("lead", real_now - 3 * H, "sdr-9", prospect_id="p-late", account_id="acc-a")
    s.add("email", real_now - 3 * H, "sdr-9", account_id="acc-a")


def test_signals_evaluate_and_list(scenario):
    from touchline.plan.cli import signals

    s = scenario
    _lead_over_sla(s)
    obj = {"sink": s.sink, "tenant": s.tenant}
    none = CliRunner().invoke(signals, ["list"], obj=obj)
    assert none.exit_code == 0 and f"no firing signals for tenant {s.tenant}" in none.output

    dry = CliRunner().invoke(signals, ["evaluate", "--dry-run"], obj=obj)
    assert dry.exit_code == 0, dry.output
    # the lead is 3 h old when the test starts; a second boundary crossed before the CLI reads
    # the clock makes it 10,801 s, which format_duration writes as 3.0h (a CI run failed here)
    assert re.search(r"\[lead_sla\] Rep sdr-9: new lead p-late \(tier A\) has waited 3(\.0)?h ",
                     dry.output), dry.output
    assert CliRunner().invoke(signals, ["list"], obj=obj).output.startswith("no firing")

    run = CliRunner().invoke(signals, ["evaluate"], obj=obj)
    assert run.exit_code == 0 and "fired" in run.output

    listed = CliRunner().invoke(signals, ["list", "--kind", "lead_sla"], obj=obj)
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert lines[0] == "team-1: 1 signal, 1 rep (lead_sla 1)"
    assert lines[1] == "  sdr-9: 1 (lead_sla 1)"
    assert lines[2].startswith("    [lead_sla] firing since ")
    assert "past the 1h speed-to-lead SLA; call it now." in lines[2]
    assert lines[3] == "1 signal in 1 team" and len(lines) == 4
    as_json = CliRunner().invoke(signals, ["list", "--json", "--rep", "sdr-9",
                                           "--kind", "lead_sla"], obj=obj)
    assert '"signal_id": "lead_sla:p-late"' in as_json.output


async def test_evaluate_signals_timer_writes_through_the_worker_sink(scenario):
    from touchline.streams import writer
    from touchline.streams.agents.evaluate_signals import evaluate_once

    s = scenario
    _lead_over_sla(s)
    previous = writer._sink
    writer._sink = s.sink
    try:
        first = await evaluate_once()
        second = await evaluate_once()  # a second pass changes nothing new
    finally:
        writer._sink = previous
    assert first.split(" fired")[0] != "0" and second.startswith("0 fired, 0 refreshed")
    got = s.sink.query(
        "SELECT signal_id, status, count() FROM touchline.signals WHERE tenant = {t:String} "
        "AND kind = 'lead_sla' GROUP BY signal_id, status", {"t": s.tenant}).rows
    assert got == [("lead_sla:p-late", "firing", 1)]


def _nice_and_state(pid: int) -> tuple[int, str] | None:
    """(nice value, state letter) of process `pid` from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return int(fields[16]), fields[0]


def _ended(pid: int, within_s: float = 15.0) -> bool:
    """Whether process `pid` is gone (or a zombie) within `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        seen = _nice_and_state(pid)
        if seen is None or seen[1] == "Z":
            return True
        time.sleep(0.1)
    return False


async def test_evaluate_signals_timer_runs_in_the_coach_process_on_the_background_lane(
        tmp_path, now):
    """Through the store, the Coach pass runs in a process of its own, below the live path.

    The pass writes the same signal as in the worker. The process that ran it is not this one
    and runs at nice BACKGROUND_NICE; the sink it opens is on the store's background lane, whose
    queries run at that priority in the engine. A Coach process killed between passes is
    replaced by the next pass, which finds everything unchanged.
    """
    from tests.plan.conftest import Scenario
    from touchline.settings import ClickHouseSettings, Settings
    from touchline.sinks.clickhouse import ClickHouseSink
    from touchline.sinks.reader_pool import BACKGROUND_NICE
    from touchline.stack.services import free_port, start_store
    from touchline.streams import coach_process, writer
    from touchline.streams.agents import evaluate_signals

    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    live = ClickHouseSink(settings.store_url()).start()
    s = Scenario(live, "t-lane", now)
    _lead_over_sla(s)
    previous, writer._sink = writer._sink, live
    lane = coach_process.coach_sink(live).start()
    try:
        done = await evaluate_signals.evaluate_once()
        fired = int(done.split(" fired")[0])
        pid = coach_process.coach_pid()
        assert pid is not None and pid != os.getpid()
        assert _nice_and_state(pid)[0] == BACKGROUND_NICE
        assert lane.dsn.endswith("&lane=background")
        assert lane.query("SELECT getSetting('os_thread_priority')").scalar() == BACKGROUND_NICE
        assert live.query("SELECT getSetting('os_thread_priority')").scalar() == 0
        got = live.query("SELECT signal_id, status FROM touchline.signals FINAL "
                         "WHERE tenant = 't-lane'").rows
        assert len(got) == fired and ("lead_sla:p-late", "firing") in got, got

        os.kill(pid, signal.SIGKILL)
        assert _ended(pid)
        again = await evaluate_signals.evaluate_once()
        assert again == f"0 fired, 0 refreshed, 0 resolved, {fired} unchanged", again
        assert coach_process.coach_pid() not in (None, pid)
    finally:
        coach_process.stop()
        writer._sink = previous
        lane.close()
        live.close()
        store.stop()


def test_the_coach_process_ends_with_its_worker(tmp_path):
    """A worker killed outright (SIGKILL) leaves no Coach process behind."""
    from touchline.settings import ClickHouseSettings, Settings
    from touchline.stack.services import free_port, start_store

    settings = Settings(data_dir=tmp_path, clickhouse=ClickHouseSettings(store_port=free_port()))
    store = start_store(settings)
    worker = (
        "import asyncio, os, signal\n"
        "from touchline.sinks.clickhouse import ClickHouseSink\n"
        "from touchline.streams import coach_process\n"
        f"done = asyncio.run(coach_process.run_pass(ClickHouseSink({settings.store_url()!r})))\n"
        "print(coach_process.coach_pid(), done, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    try:
        run = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True,
                             timeout=120, check=False)
        assert run.returncode == -signal.SIGKILL, run.stderr
        pid, done = run.stdout.split(" ", 1)
        assert done.strip() == "0 fired, 0 refreshed, 0 resolved, 0 unchanged", run.stdout
        assert _ended(int(pid)), f"the Coach process {pid} outlived its worker"
    finally:
        store.stop()


def test_the_coach_pass_runs_as_often_as_the_setting_says(pipeline_factory):
    """`pipeline.coach_interval_s` sets how often the leader's Coach pass runs (30 s by default:
    seven passes would take three and a half minutes). The passes take turns: each judges
    speed-to-lead and the next of the other rules."""
    p = pipeline_factory(workers=0, coach_interval_s=2.0)
    p.settings.log_level = "info"  # each pass logs "signals: <what it wrote> (judged: ...)"
    worker = p.add_worker("worker-1")
    p.wait_assigned()

    def judged() -> list[list[str]]:
        found = re.findall(r"signals: 0 fired, 0 refreshed, 0 resolved, 0 unchanged "
                           r"\(judged: ([a-z_, ]+)\)", worker.log.read_text(errors="replace"))
        return [kinds.split(", ") for kinds in found]

    p.wait_until(lambda: len(judged()) >= len(IN_TURN) + 1, timeout=90.0)
    passes = judged()
    assert all("lead_sla" in kinds and len(kinds) == 2 for kinds in passes), passes
    assert {k for kinds in passes[:len(IN_TURN)] for k in kinds} == set(KINDS), passes
    assert passes[len(IN_TURN)] == passes[0], passes  # round again
