#!/usr/bin/env bash
# Load probe of the release binary (memory, Marketing Hub reads, compression).
# Prints:
#
#   1. `crm serve` under a flood of GET /healthz with nobody scraping /metrics
#      (wrk, 2 threads, 32 connections): RSS at the start and after each
#      interval, and the requests served. Memory that grows with the request
#      count shows here.
#   2. `crm demo`: RSS once the first run's seeding is over and the server is
#      idle, then again after a restart on the same data. A gap between the
#      two is freed memory the allocator did not return.
#   3. `crm serve` on the demo's database, signed in as the demo's ceo: wrk
#      latency of GET /api/crm/marketing/stats (a cached view) against
#      GET /api/auth/me, and the audit rows the views wrote.
#   4. The first load of /crm/marketing (the page and its assets) in bytes,
#      with gzip, with brotli and uncompressed.
#
#   bash scripts/load-probe.sh [INTERVALS] [SECONDS_PER_INTERVAL]
#
# Defaults: 6 intervals of 20 seconds. Environment: CRM_BIN (default
# target/release/crm, or $CARGO_TARGET_DIR/release/crm). Installs wrk and
# sqlite3 with apt when they are missing. Only loopback addresses are used.
set -euo pipefail
# Development mode: plain HTTP on loopback (production is crm serve's default).
export CRM_PRODUCTION=false
cd "$(dirname "$0")/.."
INTERVALS=${1:-6}
SECS=${2:-20}
BIN=${CRM_BIN:-${CARGO_TARGET_DIR:-target}/release/crm}
[ -x "$BIN" ] || { echo "no release binary at $BIN: cargo build --release -p crm-server" >&2; exit 2; }
if ! command -v wrk >/dev/null 2>&1 || ! command -v sqlite3 >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk sqlite3 >/dev/null
fi
DIR=$(mktemp -d /tmp/crm-memprobe-XXXXXX)
PID=""
stop() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; PID=""; }
trap 'stop; rm -rf "$DIR"' EXIT

rss_mb() { awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
wait_url() { # LOG -> prints the URL once the server listens
  for _ in $(seq 1 900); do
    if grep -q "listening on" "$1"; then
      grep -o "listening on http://[0-9.:]*" "$1" | head -1 | awk '{print $3}'
      return 0
    fi
    kill -0 "$PID" 2>/dev/null || { echo "the server exited:" >&2; tail -20 "$1" >&2; return 1; }
    sleep 1
  done
  echo "the server did not start" >&2; return 1
}

echo "== 1. crm serve, GET /healthz flood, no /metrics scrape ($INTERVALS × ${SECS}s) =="
PORT=$((20000 + RANDOM % 20000))
"$BIN" serve --database-url "sqlite://$DIR/serve/crm.db" --data-dir "$DIR/serve" \
  --listen "127.0.0.1:$PORT" >"$DIR/serve.log" 2>&1 &
PID=$!
URL=$(wait_url "$DIR/serve.log")
sleep 2
echo "start: RSS $(rss_mb "$PID") MB"
total=0
for i in $(seq 1 "$INTERVALS"); do
  n=$(wrk -t2 -c32 -d"${SECS}s" "$URL/healthz" 2>/dev/null | awk '/requests in/ {print $1}')
  total=$((total + n))
  echo "after $((i * SECS))s: $total requests, RSS $(rss_mb "$PID") MB"
done
stop

echo "== 2. crm demo: idle after the first run's seeding, then after a restart on the same data =="
"$BIN" demo --port 0 --reset --data-dir "$DIR/demo" >"$DIR/demo1.log" 2>&1 &
PID=$!
wait_url "$DIR/demo1.log" >/dev/null
sleep 15
echo "first run (seeded in this process), idle: RSS $(rss_mb "$PID") MB"
stop
"$BIN" demo --port 0 --data-dir "$DIR/demo" >"$DIR/demo2.log" 2>&1 &
PID=$!
wait_url "$DIR/demo2.log" >/dev/null
sleep 15
echo "restart on the same data, idle: RSS $(rss_mb "$PID") MB"
stop

echo "== 3. Marketing Hub reads: GET stats (cached) against GET /api/auth/me, 10 s each =="
PORT=$((20000 + RANDOM % 20000))
CRM_API_RATE_PER_SEC=1000000 CRM_API_BURST=1000000 "$BIN" serve \
  --database-url "sqlite://$DIR/demo/demo.db" --data-dir "$DIR/demo" \
  --listen "127.0.0.1:$PORT" >"$DIR/serve2.log" 2>&1 &
PID=$!
URL=$(wait_url "$DIR/serve2.log")
COOKIE=$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"ceo@demo.test","password":"demo-ventas-2026"}' "$URL/api/auth/login" \
  | awk -F'[=;]' 'tolower($0) ~ /^set-cookie: crm_session=/ {print $2; exit}')
[ -n "$COOKIE" ] || { echo "could not sign in as ceo@demo.test" >&2; exit 1; }
audit() { sqlite3 "$DIR/demo/demo.db" "SELECT count(*) FROM audit_log WHERE action LIKE 'marketing.%_read'" 2>/dev/null || echo "?"; }
curl -s -o /dev/null -b "crm_session=$COOKIE" "$URL/api/crm/marketing/stats?time_range=30d"
before=$(audit)
for path in "/api/auth/me" "/api/crm/marketing/stats?time_range=30d"; do
  wrk -t2 -c16 -d10s --latency -H "Cookie: crm_session=$COOKIE" "$URL$path" 2>/dev/null \
    | awk -v p="$path" '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Requests\/sec/ {rps=$2}
        END {printf "%-42s %s req/s, p50 %s, p99 %s\n", p, rps, p50, p99}'
done
stop
echo "audit rows of Marketing Hub reads: $before before the wrk run, $(audit) after it (and the server's shutdown flush)"

echo "== 4. First load of /crm/marketing: bytes on the wire =="
PORT=$((20000 + RANDOM % 20000))
"$BIN" serve --database-url "sqlite://$DIR/serve3/crm.db" --data-dir "$DIR/serve3" \
  --listen "127.0.0.1:$PORT" >"$DIR/serve3.log" 2>&1 &
PID=$!
URL=$(wait_url "$DIR/serve3.log")
assets=$(curl -s "$URL/crm/marketing" | grep -oE '(src|href)="/[^"]+"' | sed -E 's/^(src|href)="//; s/"$//')
for enc in identity gzip br; do
  total=$(curl -s -o /dev/null -H "Accept-Encoding: $enc" -w '%{size_download}' "$URL/crm/marketing")
  for a in $assets; do
    total=$((total + $(curl -s -o /dev/null -H "Accept-Encoding: $enc" -w '%{size_download}' "$URL$a")))
  done
  echo "Accept-Encoding: $enc -> $total bytes"
done
stop
