#!/usr/bin/env bash
# The API contract test: a property-based fuzzer (schemathesis, pinned) runs
# every operation of the OpenAPI document against a freshly started server,
# signed in with a CEO API token, with all of its checks on. It fails on any
# 5xx, any answer that breaks its documented schema, any undocumented status,
# and any request the schema calls invalid that the server accepts.
#
#   bash scripts/contract-test.sh            # uses target/debug/crm
#   CRM_BIN=path/to/crm bash scripts/contract-test.sh
#
# Environment:
#   CONTRACT_EXAMPLES  test cases per operation and phase (default 40)
#   CONTRACT_SEED      the fuzzer's seed (default 20261207: runs repeat)
#   CONTRACT_VENV      where schemathesis is installed (default target/contract-venv)
# The report (JUnit and a pytest file reproducing failures) is written to
# target/contract-report/.
set -euo pipefail
# Development mode: plain HTTP on loopback (production is crm serve's default).
export CRM_PRODUCTION=false
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${CRM_BIN:-$TARGET_DIR/debug/crm}
SANDBOX_BIN=${META_SANDBOX_BIN:-$(dirname "$BIN")/meta-sandbox}
VENV=${CONTRACT_VENV:-$TARGET_DIR/contract-venv}
SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${CONTRACT_EXAMPLES:-40}
SEED=${CONTRACT_SEED:-20261207}
REPORT=$TARGET_DIR/contract-report

[ -x "$BIN" ] || { echo "no crm binary at $BIN (cargo build -p crm-server)" >&2; exit 1; }
[ -x "$SANDBOX_BIN" ] || { echo "no meta-sandbox binary at $SANDBOX_BIN (cargo build -p meta-sandbox)" >&2; exit 1; }

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
META_PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
META="http://127.0.0.1:$META_PORT"
SERVER=""; SANDBOX=""
cleanup() {
  for p in $SERVER $SANDBOX; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Meta is the local sandbox (its own binary), so operations that reach Meta
# answer as they would in production instead of "Meta is not configured".
"$SANDBOX_BIN" --port "$META_PORT" --size small --webhook-url "$BASE/api/webhooks/meta" \
  --webhook-verify-token contract-verify > "$WORK/sandbox.log" 2>&1 &
SANDBOX=$!
# A generous rate limit: the fuzzer sends thousands of requests with one token.
CRM_LISTEN="127.0.0.1:$PORT" CRM_PUBLIC_URL="$BASE" CRM_DATA_DIR="$WORK" \
  DATABASE_URL="sqlite://$WORK/contract.db?mode=rwc" \
  CRM_API_RATE_PER_SEC=100000 CRM_API_BURST=100000 \
  CRM_META_APP_ID=1234567890 CRM_META_APP_SECRET=sandbox-app-secret CRM_META_SANDBOX=true \
  CRM_META_GRAPH_URL="$META" CRM_META_DIALOG_URL="$META" \
  CRM_META_WEBHOOK_VERIFY_TOKEN=contract-verify \
  CRM_LOG=warn \
  "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.2
done

# First run: a tenant and its CEO; then an API token for the fuzzer (a
# bearer token needs no CSRF header, so every operation can be reached).
JAR=$WORK/cookies
SETUP=$(curl -fsS -c "$JAR" -H 'content-type: application/json' \
  -d '{"tenant_name":"Contrato SA","name":"Contrato","email":"ceo@contrato.test","password":"contrato-2026-prueba","country":"AR","currency":"ARS","timezone":"America/Argentina/Buenos_Aires","locale":"es"}' \
  "$BASE/api/setup")
CSRF=$(printf '%s' "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
TOKEN=$(curl -fsS -b "$JAR" -H 'content-type: application/json' -H "x-csrf-token: $CSRF" \
  -d '{"name":"contract","role":"ceo"}' "$BASE/api/tokens" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

rm -rf "$REPORT"
set +e
CONTRACT_TOKEN=$TOKEN "$VENV/bin/st" --config-file scripts/contract/schemathesis.toml run "$BASE/api/openapi.json" \
  --url "$BASE" \
  --checks all \
  --max-examples "$EXAMPLES" \
  --seed "$SEED" \
  --workers 2 \
  --request-timeout 20 \
  --phases examples,coverage,fuzzing \
  --suppress-health-check all \
  --report junit,pytest --report-dir "$REPORT" \
  --output-truncate true
status=$?
set -e
if [ $status -ne 0 ]; then
  echo "contract test failed; the server's log follows (last 40 lines)" >&2
  tail -n 40 "$WORK/server.log" >&2
fi
exit $status
