#!/usr/bin/env bash
# Builds the web UI and the `crm` binary, then runs CRM Ventas on the embedded
# database (./data/crm.db) with the local Meta sandbox in-process, so the Meta
# connection can be tried without a Meta app. Extra arguments go to
# `crm serve` (use `CRM_META_SANDBOX=false bash scripts/run.sh` against real Meta,
# with the CRM_META_* settings of docs/meta-setup.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd web && npm run build)
export CRM_META_SANDBOX=${CRM_META_SANDBOX:-true}
exec cargo run --release --locked -p crm-server --bin crm -- serve "$@"
