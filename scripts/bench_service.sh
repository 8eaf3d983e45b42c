#!/usr/bin/env bash
# Load benchmark of the judge service on loopback, with wrk (Debian's package):
# POST /judge with inline data (20 metrics x 2 x 500 points) and with the same 20
# metrics fetched from a real, backfilled Prometheus. Prints requests/s and p99.
# Usage: scripts/bench_service.sh [seconds per run, default 15] [connections, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
connections=${2:-8}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=target/bench-service
rm -rf "$work" && mkdir -p "$work"
python3 scripts/load/make_inputs.py "$work"
cargo build --release -p serin-judge-service --bin serin-judge

pick_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
prom_port=$(pick_port)
serin_port=$(pick_port)
promtool tsdb create-blocks-from openmetrics "$work/backfill.om" "$work/tsdb" >/dev/null
printf 'global: {}\nscrape_configs: []\n' > "$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
prom_pid=$!
SERIN_LISTEN="127.0.0.1:$serin_port" SERIN_CONFIGS_DIR="$work/configs" \
  SERIN_PROMETHEUS_URL="http://127.0.0.1:$prom_port" SERIN_LOG=warn \
  target/release/serin-judge &
serin_pid=$!
trap 'kill $serin_pid $prom_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$prom_port/-/ready" >/dev/null && curl -sf "http://127.0.0.1:$serin_port/healthz" >/dev/null && break
  sleep 0.1
done
for body in inline prometheus; do
  verdict=$(curl -sf -XPOST -H 'content-type: application/json' --data-binary "@$work/$body.json" "http://127.0.0.1:$serin_port/judge" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["verdict"], r["score"])')
  echo "== $body: one request answers: $verdict"
  BODY="$work/$body.json" wrk -t1 -c"$connections" -d"${duration}s" --latency -s scripts/load/post.lua \
    "http://127.0.0.1:$serin_port/judge" | tee "$work/$body.wrk" | grep -E "Requests/sec|99%|non-200|Socket errors" || true
done
