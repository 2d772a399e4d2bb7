"""`touchline report variation`: spread between reps / teams / product lines / segments."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.plan.variation_seed import seed_variation
from touchline.plan import variation as va
from touchline.plan.cli import report
from touchline.plan.stats import wilson

pytestmark = pytest.mark.integration


def test_rep_a_is_flagged_for_acquisition_only(scenario, now):
    s = scenario
    monday = seed_variation(s, now)
    rows = va.counts(s.sink, s.tenant, monday)
    groups = {(g.motion, g.group): g for g in va.spread(rows, "rep", "meetings_held")}
    assert set(groups) == {(m, r) for m in ("acquisition", "upsell")
                           for r in ("rep-a", "rep-b", "rep-c")} | {("unspecified", "rep-a")}
    a = groups[("acquisition", "rep-a")]
    assert (a.rate.hits, a.rate.n, a.peers.hits, a.peers.n) == (2, 100, 38, 200)
    assert a.rate == wilson(2, 100) and a.peers == wilson(38, 200)
    assert a.flag == "below"
    up = groups[("upsell", "rep-a")]
    assert (up.rate.hits, up.rate.n, up.peers.hits, up.peers.n) == (8, 40, 16, 80)
    assert {k: g.flag for k, g in groups.items() if g.flag} == {("acquisition", "rep-a"): "below"}
    assert groups[("unspecified", "rep-a")].peers.n == 0  # nobody to compare with

    # by product line, within acquisition: one line, no peers
    by_line = va.spread(va.counts(s.sink, s.tenant, monday, motion="acquisition"),
                        "product_line", "meetings_held")
    assert [(g.group, g.rate.hits, g.rate.n, g.flag) for g in by_line] == [
        ("platform", 40, 300, "")]
    wins = va.spread(rows, "team", "won")
    assert [(g.motion, g.group, g.rate.hits, g.rate.n) for g in wins] == [
        ("upsell", "team-1", 1, 2)]


def test_a_reps_peers_share_their_role(scenario, now):
    """An AE is compared with AEs, an SDR with SDRs (roles from the org, else `reps`)."""
    s = scenario
    monday = seed_variation(s, now)
    s.rep("rep-a", "sdr")
    s.rep("rep-b", "sdr")
    s.rep("rep-c", "ae")
    roles = va.rep_roles(s.sink, s.tenant)
    assert roles == {"rep-a": "sdr", "rep-b": "sdr", "rep-c": "ae"}
    rows = va.counts(s.sink, s.tenant, monday, motion="acquisition")
    groups = {g.group: g for g in va.spread(rows, "rep", "meetings_held", roles)}
    a, c = groups["rep-a"], groups["rep-c"]
    assert (a.role, a.peers.hits, a.peers.n) == ("sdr", 20, 100)  # rep-b only
    assert (c.role, c.peers.n) == ("ae", 0)  # the only AE: nobody to compare with
    assert c.flag == "" and a.flag == "below"
    out = CliRunner().invoke(report, ["variation", "--weeks", "2", "--motion", "acquisition"],
                             obj={"sink": s.sink, "tenant": s.tenant}).output
    assert any(line.split()[:3] == ["team-1", "ae", "rep-c"] for line in out.splitlines())


def test_report_variation_cli_table_and_json(scenario, now):
    s = scenario
    seed_variation(s, now)
    obj = {"sink": s.sink, "tenant": s.tenant}
    result = CliRunner().invoke(report, ["variation", "--weeks", "2"], obj=obj)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Variation by rep: meetings held per 100 touches" in out
    lines = out.splitlines()
    acq = lines.index("acquisition:")
    assert lines[acq + 1].split() == ["team", "role", "rep", "touches", "meetings_held", "per",
                                      "100", "[95%", "CI]", "same", "role", "in", "team", "[95%",
                                      "CI]", "flag"]
    assert lines[acq + 2].split() == ["team-1", "-", "rep-a", "100", "2", "2.0", "[0.6,", "7.0]",
                                      "19.0", "[14.2,", "25.0]", "below"]
    assert "upsell:" in lines and "unspecified:" in lines
    assert not any(line.endswith(("below", "above")) for line in lines[lines.index("upsell:"):])

    result = CliRunner().invoke(report, ["variation", "--weeks", "2", "--motion", "upsell",
                                         "--product-line", "analytics", "--by", "segment",
                                         "--format", "json"], obj=obj)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["motion"], doc["product_line"], doc["by"]) == ("upsell", "analytics", "segment")
    assert [(g["group"], g["hits"], g["n"], g["flag"]) for g in doc["groups"]] == [
        ("mid_market", 24, 120, "")]

    empty = CliRunner().invoke(report, ["variation", "--weeks", "2", "--product-line", "nope"],
                               obj=obj)
    assert empty.exit_code == 0 and "(no touches in this period)" in empty.output


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "region"], "Invalid value for '--by'"),
    (["--motion", "churn"], "Invalid value for '--motion'"),
    (["--weeks", "0"], "Invalid value for '--weeks'"),
    (["--format", "csv"], "Invalid value for '--format'"),
    (["--activity", "calls"], "Invalid value for '--activity'"),
])
def test_report_variation_bad_options_are_one_line_errors(scenario, args, message):
    obj = {"sink": scenario.sink, "tenant": scenario.tenant}
    result = CliRunner().invoke(report, ["variation", *args], obj=obj)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
