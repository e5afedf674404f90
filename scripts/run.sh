#!/usr/bin/env bash
# Builds the web UI and the `crm` binary, then runs CRM Ventas on the embedded
# database (./data/crm.db). Extra arguments go to `crm serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd web && npm run build)
exec cargo run --release --locked -p crm-server --bin crm -- serve "$@"
