#!/bin/sh
# The compose `init` job, run at every `docker compose up` (docker-compose.yml mounts it).
# Everything here is idempotent, and defined once in the touchline package:
#   topics             the pipeline's topics with their partition counts
#   sink init --users  schema migrations, then the writer, the read-only reader (Grafana's
#                      user), one reader per tenant in TOUCHLINE_SECURITY__TENANT_READERS and
#                      their row policies (sinks/security.py)
#   plan load          the plan file named in TOUCHLINE_INIT_PLAN, if any
set -eu
touchline topics
touchline sink init --users
if [ -n "${TOUCHLINE_INIT_PLAN:-}" ]; then
  touchline plan load "$TOUCHLINE_INIT_PLAN"
fi
