"""The local control panel: API on the seeded engine, and the page in headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import threading
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from selenium import webdriver
from selenium.webdriver.chrome.options import Options as ChromeOptions
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.support.ui import WebDriverWait

from touchline.dashboards.local.catalog import dashboard
from touchline.dashboards.local.view import make_app, run_local_view
from touchline.stack.services import free_port, wait_for_port

pytestmark = pytest.mark.integration

#: Debian's packages (`apt-get install chromium chromium-driver`, as .ci/run does)
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--window-size=1400,1800"]
#: where screenshots go: $TOUCHLINE_TEST_ARTIFACTS if set (CI uploads / humans look), else tmp
ARTIFACTS_ENV = "TOUCHLINE_TEST_ARTIFACTS"


async def test_api_serves_the_dashboards_panels(seeded) -> None:
    async with TestClient(TestServer(make_app(seeded.sink))) as client:
        meta = await (await client.get("/api/dashboards")).json()
        uids = [d["uid"] for d in meta["dashboards"]]
        assert uids == ["touchline-ops", "touchline-coaching", "touchline-rep"]
        ops = dashboard("touchline-ops")
        assert [p["title"] for p in meta["dashboards"][0]["panels"]] == [
            p.title for p in ops.panels]

        var = await (await client.get("/api/variables/touchline-coaching?team=team-west")).json()
        assert var["values"] == {"tenant": "acme", "team": "team-west", "rep": "$__all"}

        panel = next(p for p in ops.panels if p.title == "Events in (per s, last 5 min)")
        before = _events_per_s(seeded.sink)
        data = await (await client.get(f"/api/panel/touchline-ops/{panel.index}")).json()
        after = _events_per_s(seeded.sink)
        assert data["columns"] == ["events_per_s"]
        assert after <= data["rows"][0][0] <= before and after > 0

        longest = next(p for p in dashboard("touchline-rep").panels
                       if p.title == "My deals sitting longest")
        resp = await client.get(f"/api/panel/touchline-rep/{longest.index}?rep=r-east-2")
        rows = (await resp.json())["rows"]
        assert [r[0] for r in rows] == ["opp-stuck", "opp-ent"]

        assert (await client.get("/api/panel/touchline-ops/99")).status == 404
        assert (await client.get("/api/panel/nope/0")).status == 404
        page = await (await client.get("/")).text()
        assert "<script>" in page and "http" not in page.split("<script>")[1].split("svg")[0]


def _events_per_s(sink) -> float:
    """Independent of the panel SQL: the seeded reports of the last 5 minutes, in Python."""
    cutoff = time.time() - 300
    rows = sink.query("SELECT ts, events_in FROM touchline.pipeline_metrics").rows
    return round(sum(n for ts, n in rows
                     if ts.replace(tzinfo=dt.UTC).timestamp() >= cutoff) / 300, 2)


class _Server:
    """run_local_view in a thread with its own event loop, stopped by cancelling it."""

    def __init__(self, sink, port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task | None = None
        self.thread = threading.Thread(target=self._run, args=(sink, port), daemon=True)

    def _run(self, sink, port: int) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(run_local_view(sink, "127.0.0.1", port))
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)


def _chromium(profile: Path) -> webdriver.Chrome:
    """Debian's headless Chromium through its own chromedriver: nothing is downloaded."""
    options = ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROME_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=ChromeService(executable_path=CHROMEDRIVER))


def _panels_when_loaded(driver: webdriver.Chrome, count: int) -> list[dict]:
    """The page's panels once all `count` of them have finished loading (30 s at most)."""
    def loaded(d: webdriver.Chrome) -> list[dict] | bool:
        panels = d.execute_script(PANEL_STATE)
        return panels if len(panels) == count and all(p["state"] for p in panels) else False

    return WebDriverWait(driver, 30, poll_frequency=0.2).until(loaded)


PANEL_STATE = """return Array.from(document.querySelectorAll('section.panel')).map(s => ({
  title: s.querySelector('h2').textContent, kind: s.dataset.kind, state: s.dataset.state || '',
  rows: s.dataset.rows || '', text: s.querySelector('.body').innerText}));"""


def test_page_renders_numbers_from_clickhouse_in_chromium(seeded, tmp_path) -> None:
    shots = Path(os.environ.get(ARTIFACTS_ENV) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = _Server(seeded.sink, port)
    server.thread.start()
    wait_for_port(port, None, "the local panel", 10)
    driver = _chromium(tmp_path / "chrome-profile")
    try:
        first_rate = _events_per_s(seeded.sink)
        driver.get(f"http://127.0.0.1:{port}/?d=touchline-ops")
        panels = _panels_when_loaded(driver, len(dashboard("touchline-ops").panels))
        assert [p["state"] for p in panels] == ["ok"] * len(panels)
        by_title = {p["title"]: p for p in panels}
        shown = float(by_title["Events in (per s, last 5 min)"]["text"].replace(",", ""))
        assert _events_per_s(seeded.sink) - 0.01 <= shown <= first_rate + 0.01 and shown > 0
        assert by_title["Consumer lag"]["text"].strip() == "21"
        health = by_title["Pipeline health"]["text"]
        assert "activities.raw" in health and "worker-1" in health
        charts = driver.execute_script(
            "return document.querySelectorAll('section.kind-timeseries polyline').length")
        assert charts >= 4
        png = driver.get_screenshot_as_png()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
        (shots / "local-view-ops.png").write_bytes(png)

        # the coaching view: variables resolve, a table shows the seeded reps and plan
        driver.get(f"http://127.0.0.1:{port}/?d=touchline-coaching")
        panels = _panels_when_loaded(driver, len(dashboard("touchline-coaching").panels))
        by_title = {p["title"]: p for p in panels}
        plan = by_title["High-impact activities vs plan (this week)"]["text"]
        assert "r-east-1" in plan and "connected_calls" in plan
        (shots / "local-view-coaching.png").write_bytes(driver.get_screenshot_as_png())
    finally:
        driver.quit()
        server.stop()
    assert not server.thread.is_alive()
