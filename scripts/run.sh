#!/usr/bin/env bash
# The README's run command: installs the web app's npm packages (when
# missing or outdated), builds the web app, then builds and runs `crm demo`:
# CRM Ventas on ./data/demo.db with the local Meta sandbox in-process, the
# "Demo Ventas" tenant connected to it and live leads arriving. Extra
# arguments go to `crm demo` (see `crm demo --help`: --port, --size, --speed,
# --reset). To run the plain server on your machine instead:
# `CRM_PRODUCTION=false cargo run --release -- serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd web && npm run build)
exec cargo run --release --locked -p crm-server --bin crm -- demo "$@"
