#!/usr/bin/env bash
# Runs every check and test of CRM Ventas, installing what is missing.
#   - PostgreSQL (started if installed but stopped; installed with apt if absent)
#   - Debian Chromium (for the browser end-to-end tests)
#   - Debian's prometheus package (promtool, for the alert rules' unit tests)
#   - npm packages of the web app
# Then: cargo fmt --check, clippy -D warnings, promtool on the alert rules,
# the OpenAPI drift check, the Rust
# tests on SQLite and on PostgreSQL, the API contract test (schemathesis, in
# a virtual environment under target/), the web unit tests and the e2e tests.
#
# Environment:
#   CRM_TEST_PG_URL   PostgreSQL server for the test databases
#                     (default postgres://postgres@127.0.0.1:5432/postgres)
#   SKIP_E2E=1        skip the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CRM_BIN_PATH="$TARGET_DIR/debug/crm"
PG_URL=${CRM_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

step() { printf '\n==== %s ====\n' "$*"; }
apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

step "PostgreSQL"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing postgresql"; apt_install postgresql
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  [ -d "/etc/postgresql/$ver/main" ] || $SUDO pg_createcluster "$ver" main
  # Trust local TCP connections for the test user (test machine only).
  hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! grep -q "crm-ventas-test" "$hba" 2>/dev/null; then
    printf '# crm-ventas-test\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | $SUDO tee -a "$hba" >/dev/null
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432

step "Chromium"
if [ -z "${SKIP_E2E:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium"; apt_install chromium fonts-dejavu-core
fi
[ -n "${SKIP_E2E:-}" ] || /usr/bin/chromium --version

step "npm packages"
(cd web && npm ci --no-audit --no-fund --loglevel=error)

step "web build (embedded into the binary)"
(cd web && npm run build)

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Prometheus alert rules (promtool)"
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing prometheus (for promtool)"; apt_install prometheus
fi
promtool check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && promtool test rules alerts.test.yml)

step "OpenAPI drift check"
cargo build --locked -q -p crm-server
"$CRM_BIN_PATH" openapi > /tmp/openapi.generated.json
if ! diff -u openapi.json /tmp/openapi.generated.json > /tmp/openapi.diff; then
  head -50 /tmp/openapi.diff
  echo "openapi.json differs from what the code generates: run 'cargo run -p crm-server -- openapi > openapi.json' and commit it." >&2
  exit 1
fi
echo "openapi.json is up to date"

count() { # sums "test result" lines of a cargo test log
  awk '/^test result:/ {for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p+=$i; if($(i+1)~/^failed/)f+=$i; if($(i+1)~/^ignored/)s+=$i}} END {printf "%d passed, %d failed, %d skipped", p, f, s}' "$1"
}

step "Rust tests on SQLite"
unset CRM_TEST_DATABASE_URL
cargo test --workspace --locked 2>&1 | tee /tmp/rust-sqlite.log
step "Rust tests on PostgreSQL"
export CRM_TEST_DATABASE_URL=$PG_URL
# Drop test databases left by earlier runs (only in CI: locally another test
# run may be using them).
[ -z "${CI:-}" ] || psql "$PG_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'crm_test_%'" 2>/dev/null \
  | while read -r db; do psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
cargo test --locked -p crm-db -p crm-core -p crm-server 2>&1 | tee /tmp/rust-pg.log
unset CRM_TEST_DATABASE_URL

step "API contract test (schemathesis against a fresh server)"
cargo build --locked -q -p crm-server -p meta-sandbox
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "installing python3-venv"; apt_install python3-venv
fi
CRM_BIN="$CRM_BIN_PATH" bash scripts/contract-test.sh 2>&1 | tee /tmp/contract.log

step "web unit tests"
(cd web && npm test 2>&1) | tee /tmp/web-unit.log

if [ -z "${SKIP_E2E:-}" ]; then
  step "browser end-to-end tests (Chromium)"
  (cd web && CRM_BIN="$CRM_BIN_PATH" npm run e2e 2>&1) | tee /tmp/web-e2e.log
fi

step "summary"
echo "rust on sqlite: $(count /tmp/rust-sqlite.log)"
echo "rust on postgresql: $(count /tmp/rust-pg.log)"
grep -E "generated, " /tmp/contract.log | tail -n1 | sed 's/^ */api contract: /' || true
grep -E "^\s+Tests\s+" /tmp/web-unit.log | sed 's/^/web unit: /' || true
[ -n "${SKIP_E2E:-}" ] || grep -E "^\s+Tests\s+" /tmp/web-e2e.log | sed 's/^/web e2e: /' || true
total_p=0; total_f=0
for f in /tmp/rust-sqlite.log /tmp/rust-pg.log; do
  p=$(count "$f" | awk '{print $1}'); fl=$(count "$f" | awk '{print $3}')
  total_p=$((total_p + p)); total_f=$((total_f + fl))
done
echo "all: ${total_p} passed, ${total_f} failed"
