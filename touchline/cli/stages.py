"""`touchline stages map|unmapped`: how the CRM's stage names become the plan's stages.

`map` prints the stage map in force (built-in defaults for Salesforce's and HubSpot's default
pipelines, plus `webhooks.stage_map_path`); `unmapped` lists the stage names recorded that are
not stages of the tenant's plan (the `unmapped_stages` view), so ops can add them to the map.
"""

from __future__ import annotations

import click

from touchline.errors import friendly
from touchline.schemas.vendors.stage_map import StageMap, StageMapError
from touchline.terminal_table import align

UNMAPPED = """
SELECT source, stage, changes, opportunities, closed_by_source, last_seen, has_plan
FROM {db}.unmapped_stages WHERE tenant = {tenant:String}
ORDER BY changes DESC, source, stage
"""


@click.group()
def stages() -> None:
    """CRM stage names and the plan's stages (schemas/vendors/stage_map.py)."""


@stages.command("map")
@friendly
def stage_map() -> None:
    """Print the stage map in force: source, pipeline, CRM name -> plan stage."""
    from touchline.settings import get_settings

    try:
        loaded = StageMap.load(get_settings().webhooks.stage_map_path)
    except StageMapError as exc:
        raise click.ClickException(f"{exc} (fix it, or unset "
                                   "TOUCHLINE_WEBHOOKS__STAGE_MAP_PATH)") from exc
    click.echo("\n".join(align(loaded.entries(), ("source", "pipeline", "crm stage",
                                                  "plan stage"), rule=True)))


@stages.command("unmapped")
@click.option("--tenant", default=None, help="Tenant (default: settings.tenant).")
@friendly
def unmapped(tenant: str | None) -> None:
    """Stage names recorded that the tenant's plan does not have: map them or fix the plan."""
    from touchline.settings import get_settings
    from touchline.sinks.connect import open_reader

    settings = get_settings()
    sink = open_reader(settings)
    try:
        rows = sink.query(UNMAPPED.replace("{db}", settings.clickhouse.database),
                          {"tenant": tenant or settings.tenant}, readonly=True).rows
    finally:
        sink.close()
    if not rows:
        click.echo("every recorded stage is a stage of the plan")
        return
    if not rows[0][6]:
        click.echo("no plan is loaded for this tenant, so no stage is known: "
                   "run `touchline plan load FILE`")
    click.echo("\n".join(align(
        [(src, stage, str(n), str(opps), "closed" if closed else "open",
          last.strftime("%Y-%m-%d %H:%M")) for src, stage, n, opps, closed, last, _ in rows],
        ("source", "stage", "changes", "deals", "source says", "last seen"), rule=True)))
    click.echo("add them to the stage map (TOUCHLINE_WEBHOOKS__STAGE_MAP_PATH; "
               "`touchline stages map` shows it) or to the plan's stages")
