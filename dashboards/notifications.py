"""Who hears about an alert: one contact point per team manager, one for ops, routed by labels.

Coaching rules carry `team` and `rep` labels from their query rows; the policy tree sends each
team's alerts to that team's manager contact point (grouped per rep, so a manager gets one
notification per rep and signal rather than one per deal). Ops rules carry `audience=ops`.
Addresses come from environment variables that Grafana expands when it provisions the files.
"""

from __future__ import annotations

import re

from grafana_foundation_sdk.builders import alerting
from grafana_foundation_sdk.models.alerting import MatchType

#: team ids of the demo organisation (touchline/simulator.py); add a line per real team
TEAMS: tuple[str, ...] = ("team-east", "team-west", "team-enterprise")
OPS_RECEIVER = "touchline-ops"
DEFAULT_RECEIVER = "touchline-managers"
GROUP_BY = ["alertname", "team", "rep"]


def receiver_name(team: str) -> str:
    """Contact point name of a team's manager."""
    return f"touchline-{team}-manager"


def address_env(name: str) -> str:
    """The env variable holding a contact point's address(es): TOUCHLINE_ALERTS_<NAME>_EMAIL."""
    return "TOUCHLINE_ALERTS_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_EMAIL"


def _email(name: str, uid: str, env: str) -> alerting.ContactPoint:
    return (alerting.ContactPoint()
            .name(name)
            .uid(uid)
            .type("email")
            .settings({"addresses": f"${env}", "singleEmail": True})
            .disable_resolve_message(False))


def contact_points() -> list[alerting.ContactPoint]:
    """Ops, the managers' fallback, and one per team."""
    points = [
        _email(OPS_RECEIVER, "touchline-ops-email", address_env("ops")),
        _email(DEFAULT_RECEIVER, "touchline-managers-email", address_env("managers")),
    ]
    for team in TEAMS:
        name = receiver_name(team)
        points.append(_email(name, f"{name}-email", address_env(team)))
    return points


def _matcher(label: str, value: str) -> list[str]:
    return [label, MatchType.EQUAL.value, value]


def notification_policy() -> alerting.NotificationPolicy:
    """Root policy: ops alerts to ops, each team's alerts to its manager, rest to managers."""
    routes = [alerting.NotificationPolicy()
              .receiver(OPS_RECEIVER)
              .object_matchers([_matcher("audience", "ops")])
              .group_by(["alertname", "reason"])
              .repeat_interval("1h")]
    for team in TEAMS:
        routes.append(alerting.NotificationPolicy()
                      .receiver(receiver_name(team))
                      .object_matchers([_matcher("team", team)])
                      .group_by(GROUP_BY))
    return (alerting.NotificationPolicy()
            .receiver(DEFAULT_RECEIVER)
            .group_by(GROUP_BY)
            .group_wait("30s")
            .group_interval("5m")
            .repeat_interval("4h")
            .routes(routes))
