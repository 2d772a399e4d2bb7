#!/usr/bin/env bash
# Regenerate the committed JSON Schemas from Grafana's own TypeScript types (@grafana/schema).
# Run by hand when the Grafana version changes; CI only reads the committed *.schema.json files
# (so CI needs no npm). Needs node + npm; installs into a throwaway dir outside the repo.
#
#   bash dashboards/schema/generate.sh
set -euo pipefail

GRAFANA_SCHEMA_VERSION="11.6.16"     # = the grafana/grafana image tag in docker-compose.yml
# grafana-foundation-sdk for TypeScript, the same build as the pinned Python SDK (1769699379!11.6.0):
# its alerting types are Grafana's provisioning API types (rule groups, contact points, policies)
FOUNDATION_SDK_VERSION="11.6.0-cogv0.0.x.1769699379"
GENERATOR_VERSION="2.4.0"            # ts-json-schema-generator
TYPESCRIPT_VERSION="5.9.3"

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
  "@grafana/schema@${GRAFANA_SCHEMA_VERSION}" \
  "@grafana/grafana-foundation-sdk@${FOUNDATION_SDK_VERSION}" \
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
alerting="node_modules/@grafana/grafana-foundation-sdk/dist/alerting/types.gen.d.ts"
gen "$alerting" RuleGroup alert-rule-group
gen "$alerting" ContactPoint alert-contact-point
gen "$alerting" NotificationPolicy alert-notification-policy
# A rule's query model is the datasource's own query type (an empty `Dataquery` interface in
# the SDK, i.e. "any object"); open it up, the ClickHouse query itself is checked by the SQL tests.
node -e '
  const fs = require("fs"); const f = process.argv[1];
  const s = JSON.parse(fs.readFileSync(f)); s.definitions.Dataquery = {type: "object"};
  fs.writeFileSync(f, JSON.stringify(s, null, 2) + "\n");' "$here/alert-rule-group.schema.json"

echo "generated from @grafana/schema@${GRAFANA_SCHEMA_VERSION} and" \
     "@grafana/grafana-foundation-sdk@${FOUNDATION_SDK_VERSION}:"
ls -1 "$here"/*.schema.json
