"""The org file feeds the identity resolver: vendor ids on its reps and accounts resolve, merged
with the identity map (the org wins where both name the same rep), as the map agents load it.
"""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
import yaml

from tests.org.conftest import EXAMPLE_ORG, EXAMPLES
from tests.webhooks.conftest import fixture_body
from touchline.org.identity import load_resolver
from touchline.schemas.activity import parse_activity
from touchline.schemas.vendors import MapContext, outreach
from touchline.settings import get_settings
from touchline.streams import vendor_forwarding

RECEIVED = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def identity_map(tmp_path):
    """The shipped identity map without rep-cy (whose Outreach user id 7 is in the org file)
    and with rep-ana in a team the org file does not know."""
    doc = yaml.safe_load((EXAMPLES / "identities.yaml").read_text())
    doc["reps"] = [r for r in doc["reps"] if r["rep_id"] != "rep-cy"]
    for r in doc["reps"]:
        if r["rep_id"] == "rep-ana":
            r["team_id"] = "team-old"
    path = tmp_path / "identities.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def outreach_reps(resolver):
    ctx = MapContext(tenant="acme", identities=resolver, received_at=RECEIVED)
    docs = fixture_body("outreach_webhooks.jsonl").split("\n")
    events = [parse_activity(orjson.dumps(e)) for d in docs
              for e in outreach.map_request(d, ctx).events]
    return [(e.rep_id, e.team_id) for e in events if e.type != "disposition"]


def test_org_identities_resolve_and_win_over_the_map(identity_map):
    alone = load_resolver(identity_map, None)
    assert set(outreach_reps(alone)) == {("unknown:outreach_user:7", "unknown")}

    both = load_resolver(identity_map, EXAMPLE_ORG, at=RECEIVED)
    assert set(outreach_reps(both)) == {("rep-cy", "team-east")}  # Cy's team since March
    before_move = load_resolver(identity_map, EXAMPLE_ORG,
                                at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert set(outreach_reps(before_move)) == {("rep-cy", "team-west")}
    # Salesforce ids match in their 15- and 18-character forms; HubSpot owners by owner id
    assert both.rep("salesforce", "005RM000001vI54") == both.rep("salesforce",
                                                                 "005RM000001vI54YAE")
    assert both.rep("salesforce", "005RM000001vI54YAE").team_id == "team-west"  # org wins
    assert (both.rep("hubspot_owner", "8812345").rep_id,
            both.rep("hubspot_user", "45678").rep_id) == ("rep-ben", "rep-ben")
    assert both.rep("email", "Maya@Touchline.example").rep_id == "rep-maya"  # the rep's email
    assert both.account("hubspot_company", "9912") == "acct-test"
    party, _ = both.prospect("email", "someone@globex.example")
    assert party.account_id == "acct-globex"  # by the org account's domain
    # what only the identity map holds still resolves
    party, owner = both.prospect("phone", "+1 555 867 5310")
    assert (party.prospect_id, owner.rep_id) == ("pr-wile", "rep-ana")
    # unknown: only the prospects neither file lists (no rep, no account)
    assert set(both.unknown) == {"unknown:outreach_prospect:2",
                                 "unknown:email:someone@globex.example"}


def test_the_map_agents_read_the_org_file_from_the_settings(identity_map, monkeypatch):
    monkeypatch.setenv("TOUCHLINE_WEBHOOKS__IDENTITY_MAP_PATH", str(identity_map))
    monkeypatch.setenv("TOUCHLINE_ORG__PATH", str(EXAMPLE_ORG))
    monkeypatch.setattr(vendor_forwarding, "_resolver", None)
    get_settings.cache_clear()
    try:
        assert set(outreach_reps(vendor_forwarding.resolver())) == {("rep-cy", "team-east")}
        # an org file that does not validate is left out (logged), the map still works
        bad = identity_map.parent / "bad-org.yaml"
        bad.write_text(EXAMPLE_ORG.read_text().replace("role: sdr", "role: SDR"))
        monkeypatch.setenv("TOUCHLINE_ORG__PATH", str(bad))
        monkeypatch.setattr(vendor_forwarding, "_resolver", None)
        get_settings.cache_clear()
        resolver = vendor_forwarding.resolver()
        assert set(outreach_reps(resolver)) == {("unknown:outreach_user:7", "unknown")}
        assert resolver.rep("salesforce", "005RM000001vI54YAE").team_id == "team-old"
    finally:
        get_settings.cache_clear()
