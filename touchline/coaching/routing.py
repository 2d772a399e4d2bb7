"""Who hears about a team's coaching: the routing file (YAML, validated).

The notifier and Grafana's contact points and policies (dashboards/notifications.py) read it.
A route names a team, a manager (every team whose manager in the org is that rep), or is the
default for teams no other route names; it sends by email, Slack (incoming webhook) and/or a
signed webhook. Secrets are written `${ENV_VAR}` and expanded when a message is sent (Grafana
expands the same references when it provisions its contact points). Adding a team is a few
lines of YAML, no code. See docs/coaching.md.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_ENV_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_URL = re.compile(r"^(https?://[^\s]+|\$\{[A-Z_][A-Z0-9_]*\})$")


class RoutingError(ValueError):
    """A routing file that cannot be used; the message says what to fix."""


def expand_env(value: str) -> str:
    """`value` with every `${VAR}` replaced by the environment's value.

    Raises:
        RoutingError: a referenced variable is not set.
    """
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise RoutingError(f"environment variable {name} is not set (the routing file "
                               f"refers to it); export it or edit the routing file")
        return os.environ[name]

    return _ENV_REF.sub(repl, value)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Webhook(_Strict):
    """A generic webhook: JSON POSTed with an HMAC-SHA256 signature of timestamp and body."""

    url: str
    secret: str = Field(min_length=1, description="HMAC key, usually `${ENV_VAR}`")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError("must be an http(s) URL or ${ENV_VAR}")
        return value


class Route(_Strict):
    """One recipient: a team, a manager's teams, or the default; and where to send."""

    team: str | None = None
    manager: str | None = None
    default: bool = False
    email: list[str] = Field(default_factory=list)
    slack: str | None = Field(None, description="Slack incoming-webhook URL, or ${ENV_VAR}")
    webhook: Webhook | None = None
    #: only these signal kinds (default: every kind)
    kinds: list[str] = Field(default_factory=list)
    #: the weekly digest goes to this route too
    digest: bool = True
    #: and each rep of the route's teams gets their own digest at their email in the org file
    rep_digests: bool = False

    @field_validator("email")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not (_EMAIL.match(v) or _ENV_REF.fullmatch(v))]
        if bad:
            raise ValueError(f"not an email address or ${{ENV_VAR}}: {', '.join(bad)}")
        return value

    @field_validator("slack")
    @classmethod
    def _slack(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("must be an http(s) URL or ${ENV_VAR}")
        return value

    @model_validator(mode="after")
    def _one_target_and_a_channel(self) -> Route:
        named = [k for k in ("team", "manager") if getattr(self, k)] + (
            ["default"] if self.default else [])
        if len(named) != 1:
            raise ValueError("a route names exactly one of `team: ID`, `manager: REP_ID` or "
                             "`default: true`")
        if not (self.email or self.slack or self.webhook):
            raise ValueError("a route needs at least one of `email`, `slack`, `webhook`")
        return self

    @property
    def name(self) -> str:
        """Stable recipient name: `team:<id>`, `manager:<rep>` or `default`."""
        if self.team:
            return f"team:{self.team}"
        if self.manager:
            return f"manager:{self.manager}"
        return "default"

    def channels(self) -> list[str]:
        """The channels this route sends on."""
        return (["email"] if self.email else []) + (["slack"] if self.slack else []) + (
            ["webhook"] if self.webhook else [])

    def wants(self, kind: str) -> bool:
        """Whether signals of `kind` go to this route."""
        return not self.kinds or kind in self.kinds


class Routing(_Strict):
    """The whole routing file."""

    routes: list[Route] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Routing:
        names = [r.name for r in self.routes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"more than one route for {', '.join(dupes)}")
        return self

    def route_for(self, team_id: str, manager_of: dict[str, str]) -> Route | None:
        """The route of a team: its own, else its manager's (from the org), else the default."""
        by_name = {r.name: r for r in self.routes}
        manager = manager_of.get(team_id, "")
        return (by_name.get(f"team:{team_id}")
                or (by_name.get(f"manager:{manager}") if manager else None)
                or by_name.get("default"))


def _explain(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s)"]
    for err in exc.errors():
        where = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in err["loc"])
        lines.append(f"  - {where or '(top)'}: {err['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def parse_routing(text: str, source: str = "routing") -> Routing:
    """Validate routing YAML text.

    Raises:
        RoutingError: every problem, each naming its field (list positions count from 1).
    """
    try:
        doc: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RoutingError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise RoutingError(f"{source}: expected a mapping with `routes:`")
    try:
        return Routing.model_validate(doc)
    except ValidationError as exc:
        raise RoutingError(_explain(exc, source)) from None


def load_routing(path: Path) -> Routing:
    """Read and validate a routing file.

    Raises:
        RoutingError: the file is missing or invalid.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise RoutingError(f"{path}: cannot read the routing file ({exc.strerror})") from None
    return parse_routing(text, str(path))


#: the routing shipped as an example (the demo's teams); `touchline dashboards build` generates
#: Grafana's contact points and policies from it unless told another file
EXAMPLE_ROUTING = Path(__file__).resolve().parents[2] / "examples" / "routing.yaml"
