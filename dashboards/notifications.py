"""Who hears about an alert in Grafana: made from the coaching routing file (YAML).

The notifier reads the same file (touchline/coaching/routing.py), so adding a team is an edit
there, not here.
Each route becomes a contact point (its email addresses, Slack incoming webhook and webhook)
and a policy: a team route matches the rule's `team` label, a manager route its `manager`
label (the team's manager in the org, joined by the alert query), the default route is the
root. Ops alerts (`audience=ops`) go to the ops contact point. `${ENV_VAR}` references stay
as written: Grafana expands them when it provisions the files.
"""

from __future__ import annotations

import re
from pathlib import Path

from grafana_foundation_sdk.builders import alerting
from grafana_foundation_sdk.models.alerting import MatchType

from touchline.coaching.routing import EXAMPLE_ROUTING, Route, Routing, load_routing

OPS_RECEIVER = "touchline-ops"
#: the root receiver when the routing file has no default route
DEFAULT_RECEIVER = "touchline-managers"
GROUP_BY = ["alertname", "team", "rep"]


def routing(path: Path | None = None) -> Routing:
    """The routing file `dashboards build` generates from (the shipped example by default)."""
    return load_routing(path or EXAMPLE_ROUTING)


def receiver_name(route: Route) -> str:
    """Contact point name of a route.

    touchline-<team>-manager for a team, touchline-manager-<rep> for a manager,
    touchline-managers for the default route.
    """
    if route.default:
        return DEFAULT_RECEIVER
    name = f"{route.team}-manager" if route.team else f"manager-{route.manager}"
    return "touchline-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def address_env(name: str) -> str:
    """The env variable holding a contact point's address(es): TOUCHLINE_ALERTS_<NAME>_EMAIL."""
    return "TOUCHLINE_ALERTS_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") + "_EMAIL"


def _email(name: str, uid: str, addresses: str) -> alerting.ContactPoint:
    return (alerting.ContactPoint()
            .name(name)
            .uid(uid)
            .type("email")
            .settings({"addresses": addresses, "singleEmail": True})
            .disable_resolve_message(False))


def _route_points(route: Route) -> list[alerting.ContactPoint]:
    name = receiver_name(route)
    points = []
    if route.email:
        points.append(_email(name, f"{name}-email", ";".join(route.email)))
    if route.slack:
        points.append(alerting.ContactPoint().name(name).uid(f"{name}-slack").type("slack")
                      .settings({"url": route.slack}).disable_resolve_message(False))
    if route.webhook:
        points.append(alerting.ContactPoint().name(name).uid(f"{name}-webhook").type("webhook")
                      .settings({"url": route.webhook.url, "httpMethod": "POST"})
                      .disable_resolve_message(False))
    return points


def contact_points(config: Routing | None = None) -> list[alerting.ContactPoint]:
    """Ops, then one contact point (with one integration per channel) per route."""
    config = config or routing()
    points = [_email(OPS_RECEIVER, "touchline-ops-email", f"${address_env('ops')}")]
    if not any(r.default for r in config.routes):  # the root policy needs a receiver
        points.append(_email(DEFAULT_RECEIVER, "touchline-managers-email",
                             f"${address_env('managers')}"))
    for route in config.routes:
        points += _route_points(route)
    return points


def _matcher(label: str, value: str, match: MatchType = MatchType.EQUAL) -> list[str]:
    return [label, match.value, value]


def notification_policy(config: Routing | None = None) -> alerting.NotificationPolicy:
    """Root policy: ops alerts to ops, each team or manager route to its contact point."""
    config = config or routing()
    routes = [alerting.NotificationPolicy()
              .receiver(OPS_RECEIVER)
              .object_matchers([_matcher("audience", "ops")])
              .group_by(["alertname", "reason"])
              .repeat_interval("1h")]
    default = DEFAULT_RECEIVER
    for route in config.routes:
        if route.default:
            default = receiver_name(route)
            continue
        label, value = ("team", route.team) if route.team else ("manager", route.manager)
        matchers = [_matcher(label, value or "")]
        if route.kinds:
            matchers.append(_matcher("signal", "|".join(route.kinds), MatchType.EQUAL_REGEX))
        routes.append(alerting.NotificationPolicy()
                      .receiver(receiver_name(route))
                      .object_matchers(matchers)
                      .group_by(GROUP_BY))
    return (alerting.NotificationPolicy()
            .receiver(default)
            .group_by(GROUP_BY)
            .group_wait("30s")
            .group_interval("5m")
            .repeat_interval("4h")
            .routes(routes))
