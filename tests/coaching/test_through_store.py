"""The notifier and the digest through a running store process, as `touchline demo` runs them
(values travel as JSON there: parameters and results must survive it).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from touchline.coaching.digest import build_digest, last_full_week
from touchline.coaching.notifier import Notifier
from touchline.coaching.routing import parse_routing
from touchline.plan.signals import Signal, reconcile
from touchline.settings import NotifySettings

pytestmark = pytest.mark.integration


def test_notifier_and_digest_through_the_store(cli_store, smtp_server):
    port, box = smtp_server
    tenant, team = f"t-{uuid.uuid4().hex[:8]}", f"team-{uuid.uuid4().hex[:6]}"
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
    reconcile(cli_store, [Signal(tenant=tenant, signal_id="stuck_deal:opp-s", kind="stuck_deal",
                                  rep_id="ae-1", team_id=team, subject_type="opportunity",
                                  subject_id="opp-s", activity="advance_deal",
                                  message="Rep ae-1: deal opp-s is stuck")], t0, [tenant])
    routing = parse_routing(f"routes:\n  - team: {team}\n    email: [m@example.com]\n")
    settings = NotifySettings(smtp_port=port, batch_s=0, digest_weekday=0)
    first = Notifier(cli_store, routing, settings, "a").run_once(t0)
    assert len(first.sent) == 1 and first.failed == []
    assert "opp-s is stuck" in box.messages[0][1].get_body(("plain",)).get_content()
    assert Notifier(cli_store, routing, settings, "b").run_once(t0).sent == []
    d = build_digest(cli_store, tenant, team, last_full_week(t0), t0)
    assert [s["message"] for r in d.reps for s in r.signals] == ["Rep ae-1: deal opp-s is stuck"]
