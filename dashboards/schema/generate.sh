#!/usr/bin/env bash
# Regenerate the committed JSON Schemas from Grafana's own TypeScript types (@grafana/schema).
# Run by hand when the Grafana version changes; CI only reads the committed *.schema.json files
# (so CI needs no npm). Needs node + npm; installs into a throwaway dir outside the repo.
#
#   bash dashboards/schema/generate.sh
set -euo pipefail

GRAFANA_SCHEMA_VERSION="11.6.16"     # = the grafana/grafana image tag in docker-compose.yml
GENERATOR_VERSION="2.4.0"            # ts-json-schema-generator
TYPESCRIPT_VERSION="5.9.3"

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
  "@grafana/schema@${GRAFANA_SCHEMA_VERSION}" \
  "ts-json-schema-generator@${GENERATOR_VERSION}" \
  "typescript@${TYPESCRIPT_VERSION}"

raw="node_modules/@grafana/schema/dist/esm/raw"
gen() {  # gen <d.ts path> <type> <output name>
  npx --no-install ts-json-schema-generator --no-type-check \
    --path "$1" --type "$2" --out "$here/$3.schema.json"
}

gen "$raw/dashboard/x/dashboard_types.gen.d.ts" Dashboard dashboard
for panel in stat:StatPanelCfg timeseries:TimeSeriesPanelCfg table:TablePanelCfg \
             barchart:BarChartPanelCfg bargauge:BarGaugePanelCfg; do
  name="${panel%%:*}"; file="${panel##*:}"
  gen "$raw/composable/$name/panelcfg/x/${file}_types.gen.d.ts" Options "panel-$name-options"
done
echo "generated from @grafana/schema@${GRAFANA_SCHEMA_VERSION}:"
ls -1 "$here"/*.schema.json
