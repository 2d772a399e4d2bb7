"""Read org files (YAML, or CSV files of one section each) and explain what is wrong with them.

`read_org(paths)` returns a validated `Org` or raises `OrgError`, whose lines name the file, the
entry and the field (`org.yaml: reps[3].role: ...`, `reps.csv: line 4: role: ...`), all at
once. Nothing is written here: a file with any problem is never loaded.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from touchline.plan.loader import explain_validation
from touchline.schemas.org import (
    ACCOUNT_IDENTITIES,
    REP_IDENTITIES,
    SECTIONS,
    Account,
    Org,
    RepPeriod,
    Team,
    org_problems,
)

_MODELS = {"teams": Team, "reps": RepPeriod, "accounts": Account}
_LIST_COLUMNS = {"reps": REP_IDENTITIES, "accounts": ACCOUNT_IDENTITIES, "teams": ()}


class OrgError(ValueError):
    """An org file that cannot be used; `problems` holds one `file: where: reason` per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def explain(self) -> str:
        """Multi-line text for a person: a count, then every problem."""
        lines = [f"{len(self.problems)} problem(s); nothing was loaded"]
        return "\n".join(lines + [f"  - {p}" for p in self.problems])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise OrgError([f"{path}: cannot read the file ({exc.__class__.__name__}: {reason})"]
                       ) from None


def parse_yaml(text: str, source: str) -> Org:
    """Validate one YAML org document.

    Raises:
        OrgError: bad YAML or invalid entries (every problem listed).
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise OrgError([f"{source}: {where}not valid YAML ({problem})"]) from None
    if not isinstance(doc, dict) or not any(k in doc for k in SECTIONS):
        raise OrgError([f"{source}: an org file is a mapping with teams, reps and/or accounts "
                        "(docs/org.md)"])
    try:
        org = Org.model_validate(doc)
    except ValidationError as exc:
        raise OrgError([f"{source}: {line}" for line in explain_validation(exc)]) from None
    problems = org_problems(org)
    if problems:
        raise OrgError([f"{source}: {p}" for p in problems])
    return org


def csv_section(header: list[str]) -> str | None:
    """Which section a CSV file holds, from its columns (rep_id: reps, account_id: accounts)."""
    if "rep_id" in header:
        return "reps"
    if "account_id" in header:
        return "accounts"
    if "team_id" in header:
        return "teams"
    return None


def parse_csv(text: str, source: str) -> tuple[str, list[Any]]:
    """Validate one CSV file of one section; list cells hold `a;b;c`.

    Returns:
        (section, its entries).

    Raises:
        OrgError: unknown layout or invalid rows (every problem listed, by line).
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    section = csv_section(header)
    if section is None:
        raise OrgError([f"{source}: line 1: the header needs rep_id (reps), account_id "
                        "(accounts) or team_id (teams) (docs/org.md)"])
    reader.fieldnames = header
    model = _MODELS[section]
    entries: list[Any] = []
    problems: list[str] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"{source}: line {line}: more cells than columns")
            continue
        # an empty cell means "not set": the field's default applies
        values = {k: v for k, v in row.items() if k and v is not None and v.strip() != ""}
        try:
            entries.append(model.model_validate(values))
        except ValidationError as exc:
            problems += [f"{source}: line {line}: {p}" for p in explain_validation(exc)]
    if problems:
        raise OrgError(problems)
    return section, entries


def read_org(paths: list[str | Path], tenant: str | None = None) -> Org:
    """Read one YAML org file, or CSV files (one section each), into one validated Org.

    Raises:
        OrgError: anything wrong in any file (every problem listed; nothing is loaded).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise OrgError(["no file given: touchline org load org.yaml (docs/org.md)"])
    yaml_files = [p for p in paths if p.suffix.lower() in (".yaml", ".yml")]
    if yaml_files and len(paths) > 1:
        raise OrgError([f"{yaml_files[0]}: load a YAML org file on its own (it holds every "
                        "section); several files must all be CSV"])
    if yaml_files:
        org = parse_yaml(_read_text(paths[0]), str(paths[0]))
        return org.model_copy(update={"tenant": tenant}) if tenant else org
    sections: dict[str, list[Any]] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        if path.suffix.lower() != ".csv":
            problems.append(f"{path}: not a .yaml, .yml or .csv file")
            continue
        try:
            section, entries = parse_csv(_read_text(path), str(path))
        except OrgError as exc:
            problems += exc.problems
            continue
        if section in sections:
            problems.append(f"{path}: a second {section} file (first: {origin[section]})")
            continue
        sections[section], origin[section] = entries, str(path)
    if problems:
        raise OrgError(problems)
    org = Org(tenant=tenant, **sections)
    cross = org_problems(org)
    if cross:
        raise OrgError([_csv_location(p, origin) for p in cross])
    return org


def _csv_location(problem: str, origin: dict[str, str]) -> str:
    """`reps[3].team_id: ...` -> `reps.csv: line 4: team_id: ...` (the header is line 1)."""
    match = re.match(r"^(teams|reps|accounts)\[(\d+)\]\.?(.*)$", problem)
    if not match:
        return problem
    section, index, rest = match.groups()
    rest = rest if not rest.startswith(":") else rest[1:].lstrip()
    return f"{origin[section]}: line {int(index) + 1}: {rest}"


def org_summary(org: Org) -> str:
    """One line about what a file holds."""
    parts = []
    if org.teams is not None:
        parts.append(f"{len(org.teams)} teams")
    if org.reps is not None:
        parts.append(f"{len(org.rep_ids())} reps ({len(org.reps)} periods)")
    if org.accounts is not None:
        parts.append(f"{len(org.accounts)} accounts")
    return ", ".join(parts)
