#!/usr/bin/env bash
# Login flood: how a signed-in user's requests fare while wrong logins pour in.
# Starts a release `crm serve` (behind a pretend proxy: CRM_TRUST_PROXY, so
# each flooding request can claim its own /24 and account and every attempt
# costs a full Argon2 check), measures GET /api/leads for a signed-in user
# quietly, then again during the flood, and prints p50, p95 and p99 of both
# and the ratio flood/quiet.
#
#   bash scripts/login-flood.sh [seconds per run, default 15]
set -euo pipefail
# Development mode: plain HTTP on loopback (production is crm serve's default).
export CRM_PRODUCTION=false
cd "$(dirname "$0")/.."
SECS=${1:-15}
BIN=${CRM_BIN:-target/release/crm}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release -q -p crm-server
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
CRM_LISTEN="127.0.0.1:$PORT" CRM_DATA_DIR="$WORK" DATABASE_URL="sqlite://$WORK/db.sqlite?mode=rwc" \
  CRM_TRUST_PROXY=true CRM_API_RATE_PER_SEC=100000 CRM_API_BURST=100000 CRM_LOG=warn \
  "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS -c "$WORK/jar" -H 'content-type: application/json' \
  -d '{"tenant_name":"Bench","name":"Ana","email":"ana@bench.test","password":"bench-password-2026"}' \
  "$BASE/api/setup" > /dev/null
COOKIE=$(awk '$6 == "crm_session" {print $7}' "$WORK/jar")
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.2f %.2f %.2f\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
LUA
cat > "$WORK/flood.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local net = string.format("10.%d.%d.1", math.floor(n / 256) % 256, n % 256)
  local body = string.format('{"email":"user%d@bench.test","password":"wrong-password-%d"}', n, n)
  return wrk.format("POST", "/api/auth/login",
    {["Content-Type"] = "application/json", ["X-Forwarded-For"] = net}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("FLOOD %d\n", summary.requests))
end
LUA
measure() {
  wrk -t1 -c4 -d"${SECS}s" -H "Cookie: crm_session=$COOKIE" -s "$WORK/report.lua" "$BASE/api/leads" | awk '/^RESULT/ {print $2, $3, $4, $5}'
}
read -r q_n q50 q95 q99 < <(measure)
wrk -t1 -c32 -d"$((SECS + 4))s" -s "$WORK/flood.lua" "$BASE" > "$WORK/flood.out" 2>&1 &
FLOOD=$!
sleep 2
read -r f_n f50 f95 f99 < <(measure)
wait $FLOOD || true
grep -q "^FLOOD" "$WORK/flood.out" || { cat "$WORK/flood.out" >&2; exit 1; }
attempts=$(awk '/^FLOOD/ {print $2}' "$WORK/flood.out")
echo "login flood: $attempts wrong logins in $((SECS + 4)) s ($(python3 -c "print(round($attempts/($SECS+4)))")/s), each a full Argon2 check"
printf "%-22s %8s %8s %8s %8s\n" "GET /api/leads" "requests" "p50 ms" "p95 ms" "p99 ms"
printf "%-22s %8s %8s %8s %8s\n" "quiet" "$q_n" "$q50" "$q95" "$q99"
printf "%-22s %8s %8s %8s %8s\n" "during the flood" "$f_n" "$f50" "$f95" "$f99"
python3 -c "print('ratio flood/quiet: p50 %.2fx, p95 %.2fx, p99 %.2fx' % ($f50/$q50, $f95/$q95, $f99/$q99))"
