#!/usr/bin/env bash
# Memory probe of the release binary: prints resident memory (RSS) figures for
#
#   1. `crm serve` under a flood of GET /healthz with nobody scraping /metrics
#      (wrk, 2 threads, 32 connections): RSS at the start and after each
#      interval, and the requests served. Memory that grows with the request
#      count shows here.
#   2. `crm demo`: RSS once the first run's seeding is over and the server is
#      idle, then again after a restart on the same data. A gap between the
#      two is freed memory the allocator did not return.
#
#   bash scripts/memory-probe.sh [INTERVALS] [SECONDS_PER_INTERVAL]
#
# Defaults: 6 intervals of 20 seconds. Environment: CRM_BIN (default
# target/release/crm, or $CARGO_TARGET_DIR/release/crm). Installs wrk with apt
# when it is missing. Only loopback addresses are used.
set -euo pipefail
cd "$(dirname "$0")/.."
INTERVALS=${1:-6}
SECS=${2:-20}
BIN=${CRM_BIN:-${CARGO_TARGET_DIR:-target}/release/crm}
[ -x "$BIN" ] || { echo "no release binary at $BIN: cargo build --release -p crm-server" >&2; exit 2; }
if ! command -v wrk >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
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
