"""Vendor stage names -> the plan's stages, per source and (optionally) per CRM pipeline.

A CRM names its stages its own way: Salesforce's default sales process says "Prospecting" and
"Closed Won", HubSpot's default pipeline sends internal values such as `appointmentscheduled`
and `closedwon`. The mappers (salesforce.py, hubspot.py) look each name up here and send the
plan's stage as `to_stage` and the CRM's name as `vendor_stage`. The defaults below cover both
default pipelines and map onto the example plan's stages (discovery, demo, proposal,
negotiation, won, lost). A stage map file replaces or extends them:

    salesforce:
      default:                      # any pipeline not listed
        "Prospecting": discovery
        "Closed - Duplicate": lost
    hubspot:
      default:
        appointmentscheduled: discovery
      "12345678":                   # a HubSpot pipeline id: its stage ids are unique anyway
        "1029384": demo

Names match case-insensitively, with runs of spaces folded. A name found nowhere is kept as
it came (`to_stage` = the vendor's name), so it is never read as some other stage: the
`unmapped_stages` view, `touchline stages unmapped` and the ops dashboard list it. Whether a
stage change closes the deal comes from the CRM's own flags when it sends them (Salesforce
`IsClosed` / `IsWon`), else from the mapped stage (schemas/stages.py).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from touchline.schemas.vendors.config_file import read_yaml_model

DEFAULT_PIPELINE = "default"

#: Salesforce's default Opportunity StageName picklist (sales process "Standard")
SALESFORCE_DEFAULT = {
    "Prospecting": "discovery",
    "Qualification": "discovery",
    "Needs Analysis": "discovery",
    "Value Proposition": "demo",
    "Id. Decision Makers": "demo",
    "Perception Analysis": "demo",
    "Proposal/Price Quote": "proposal",
    "Negotiation/Review": "negotiation",
    "Closed Won": "won",
    "Closed Lost": "lost",
}
#: HubSpot's default deal pipeline: internal stage values as webhooks send them
HUBSPOT_DEFAULT = {
    "appointmentscheduled": "discovery",
    "qualifiedtobuy": "discovery",
    "presentationscheduled": "demo",
    "decisionmakerboughtin": "demo",
    "contractsent": "negotiation",
    "closedwon": "won",
    "closedlost": "lost",
}
DEFAULTS: dict[str, dict[str, dict[str, str]]] = {
    "salesforce": {DEFAULT_PIPELINE: SALESFORCE_DEFAULT},
    "hubspot": {DEFAULT_PIPELINE: HUBSPOT_DEFAULT},
}

StageName = str


class StageMapError(ValueError):
    """The stage map file is missing or invalid (the message names file and field)."""


class StageMapFile(BaseModel):
    """The YAML document: source -> pipeline -> vendor stage name -> plan stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    salesforce: dict[str, dict[str, StageName]] = Field(default_factory=dict)
    hubspot: dict[str, dict[str, StageName]] = Field(default_factory=dict)


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


class StageMap:
    """Lookups over the defaults and a user's stage map (the user's entries win)."""

    def __init__(self, extra: StageMapFile | None = None) -> None:
        #: (source, pipeline) -> folded vendor name -> (vendor name as written, plan stage)
        self._maps: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        sources = dict(DEFAULTS)
        if extra is not None:
            for source in ("salesforce", "hubspot"):
                sources = _merged(sources, source, getattr(extra, source))
        for source, pipelines in sources.items():
            for pipeline, names in pipelines.items():
                self._maps[(source, pipeline)] = {_fold(k): (k, v) for k, v in names.items()}

    @classmethod
    def load(cls, path: Path | None) -> StageMap:
        """The defaults plus the file at `path` (None: the defaults alone)."""
        if path is None:
            return cls()
        return cls(read_yaml_model(path, StageMapFile, StageMapError, "stage map"))

    def lookup(self, source: str, name: str, pipeline: str | None = None) -> str | None:
        """The plan stage of a vendor stage name, or None when the map does not know it."""
        key = _fold(name)
        for section in ((source, pipeline) if pipeline else None, (source, DEFAULT_PIPELINE)):
            if section is not None and key in self._maps.get(section, {}):
                return self._maps[section][key][1]
        return None

    def entries(self) -> list[tuple[str, str, str, str]]:
        """(source, pipeline, vendor name as matched, plan stage), sorted."""
        return sorted((source, pipeline, name, stage)
                      for (source, pipeline), names in self._maps.items()
                      for name, stage in names.values())

    def stage_fields(self, source: str, name: str, pipeline: str | None = None,
                     is_closed: object = None, is_won: object = None) -> dict[str, object]:
        """`to_stage`, `vendor_stage` and the CRM's own flags for a canonical stage change."""
        vendor = name.strip()[:64]
        fields: dict[str, object] = {
            "to_stage": self.lookup(source, vendor, pipeline) or vendor,
            "vendor_stage": vendor,
        }
        if isinstance(is_closed, bool):
            fields["is_closed"] = is_closed
        if isinstance(is_won, bool):
            fields["is_won"] = is_won
        return fields


def _merged(sources: dict[str, dict[str, dict[str, str]]], source: str,
            extra: dict[str, dict[str, str]]) -> dict[str, dict[str, dict[str, str]]]:
    out = {s: dict(p) for s, p in sources.items()}
    pipelines = out.setdefault(source, {})
    for pipeline, names in extra.items():
        pipelines[pipeline] = {**pipelines.get(pipeline, {}), **names}
    return out


DEFAULT_STAGE_MAP = StageMap()
