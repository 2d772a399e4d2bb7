"""The identity resolver of the map_<source> agents: the identity map and the org file, merged.

`TOUCHLINE_WEBHOOKS__IDENTITY_MAP_PATH` names the identity map (prospects, opportunities, and
reps and accounts of a team without an org file); `TOUCHLINE_ORG__PATH` names the org file
(docs/org.md), whose reps and accounts carry the same vendor identities. With both set, the
resolver reads both and the org file wins where they name the same rep, account or identity
(a rep resolves to their team in force when the resolver was built).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from touchline.org.loader import OrgError, read_org
from touchline.schemas.vendors.identities import (
    IdentityMapError,
    IdentityMapFile,
    IdentityResolver,
)

log = logging.getLogger(__name__)


def load_resolver(identity_map_path: Path | None, org_path: Path | None,
                  at: dt.datetime | None = None) -> IdentityResolver:
    """A resolver over whichever of the two files are set and valid.

    A file that is missing or invalid is logged (one line naming the file and field) and left
    out: its identities are then kept as `unknown:<kind>:<value>`, never dropped.
    """
    base = IdentityMapFile()
    if identity_map_path is not None:
        try:
            base = IdentityResolver.load(identity_map_path).data
        except IdentityMapError as exc:
            log.warning("%s; its identities will be kept as unknown:<kind>:<value>", exc)
    if org_path is None:
        return IdentityResolver(base)
    try:
        org = read_org([org_path])
    except OrgError as exc:
        log.warning("org file left out of the identity map: %s", exc)
        return IdentityResolver(base)
    at = at or dt.datetime.now(dt.UTC)
    return IdentityResolver(base.merged(IdentityMapFile.from_org(org, at)))
