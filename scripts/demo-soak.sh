#!/usr/bin/env bash
# Runs the release `crm demo` for N minutes (default 30) on a fresh data
# folder, samples its resident memory (RSS) every 10 seconds, and at the end
# prints the RSS figures, how many leads and automation messages the demo
# produced, and whether the log has any ERROR line. Exit status 1 when the log
# has an ERROR line or the demo died.
#
#   bash scripts/demo-soak.sh [MINUTES] [extra `crm demo` options]
#
# Environment: CRM_BIN (default target/release/crm, or $CARGO_TARGET_DIR/release/crm),
#              SOAK_DIR (default a new temporary folder; the log and samples stay there).
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
shift || true
BIN=${CRM_BIN:-${CARGO_TARGET_DIR:-target}/release/crm}
[ -x "$BIN" ] || { echo "no release binary at $BIN: cargo build --release -p crm-server" >&2; exit 2; }
DIR=${SOAK_DIR:-$(mktemp -d /tmp/crm-demo-soak-XXXXXX)}
mkdir -p "$DIR"
LOG="$DIR/demo.log"
SAMPLES="$DIR/rss.tsv"

CRM_LOG_FORMAT=json "$BIN" demo --port 0 --reset --data-dir "$DIR/data" "$@" >"$LOG" 2>&1 &
PID=$!
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap stop EXIT

for _ in $(seq 1 600); do
  grep -q "CRM Ventas listening on" "$LOG" && break
  kill -0 "$PID" 2>/dev/null || { echo "crm demo exited during start:" >&2; tail -20 "$LOG" >&2; exit 1; }
  sleep 1
done
grep -q "CRM Ventas listening on" "$LOG" || { echo "crm demo did not get ready in 10 minutes" >&2; exit 1; }
URL=$(grep -o "CRM Ventas listening on http://[0-9.:]*" "$LOG" | head -1 | awk '{print $5}')
READY=$(date +%s)
echo "demo ready at $URL (pid $PID); sampling RSS for $MINUTES minutes into $SAMPLES"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
printf 'seconds\trss_kb\n' >"$SAMPLES"
END=$((READY + MINUTES * 60))
while [ "$(date +%s)" -lt "$END" ]; do
  kill -0 "$PID" 2>/dev/null || { echo "crm demo died during the soak:" >&2; tail -20 "$LOG" >&2; exit 1; }
  printf '%s\t%s\n' "$(( $(date +%s) - READY ))" "$(rss_kb)" >>"$SAMPLES"
  sleep 10
done

# What the demo did, from the API (as the CEO).
JAR="$DIR/cookies"
curl -fsS -c "$JAR" -H 'content-type: application/json' \
  -d '{"email":"ceo@demo.test","password":"demo-ventas-2026"}' "$URL/api/auth/login" >/dev/null
LEADS_24H=$(curl -fsS -b "$JAR" "$URL/api/crm/marketing/stats?time_range=7d" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leads"])')
SENT=$(curl -fsS -b "$JAR" "$URL/api/crm/marketing/automation-logs?limit=500" | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin)["items"] if r["status"] in ("sent","delivered","read")))')
SIMULATED=$(grep -c '"demo: new ' "$LOG" || true)
WON=$(grep -c '"demo: seller won a deal' "$LOG" || true)
ERRORS=$(grep -c '"level":"ERROR"' "$LOG" || true)
WARNS=$(grep -c '"level":"WARN"' "$LOG" || true)
stop
trap - EXIT

python3 - "$SAMPLES" "$MINUTES" <<'EOF'
import statistics, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n')[1:] if l.strip()]
t = [int(r[0]) for r in rows]
rss = [int(r[1]) / 1024 for r in rows]
n = len(rss)
first = statistics.median(rss[: max(1, n // 10)])
last = statistics.median(rss[-max(1, n // 10):])
half = statistics.median(rss[n // 2:])
print(f"soak: {sys.argv[2]} min, {n} RSS samples every 10 s")
print(f"RSS MiB: start {rss[0]:.1f}, min {min(rss):.1f}, median {statistics.median(rss):.1f}, "
      f"p95 {sorted(rss)[int(0.95 * (n - 1))]:.1f}, max {max(rss):.1f}, end {rss[-1]:.1f}")
print(f"RSS MiB, median of the first tenth {first:.1f} vs the last tenth {last:.1f} "
      f"(ratio {last / first:.2f}); median of the second half {half:.1f}")
EOF
echo "simulated events: $SIMULATED, deals won: $WON, Meta leads in the last 7 days: $LEADS_24H, automation messages out (last 500 runs): $SENT"
echo "log: $ERRORS ERROR lines, $WARNS WARN lines ($LOG)"
[ "$ERRORS" = 0 ]
