#!/bin/bash
# One large simulated scan reprocessed three ways on a local redis-server (docs/scale.md §Large scans: pixel-range
# jobs): one job on 1 worker, pixel-range jobs + merge on 1 worker, the same on 2 workers. Prints, per run, the time
# from the first job's start to the last job's completion, taken from the workers' own logs (worker start-up and
# the reprocess command's hashing are left out).
#   bench/scale-ranges.sh [SIZE=128] [RANGE_PIXELS=4096] [REPEATS=2]
set -eu
cd "$(dirname "$0")/.."
SIZE=${1:-128}; RP=${2:-4096}; REPEATS=${3:-2}
W=$(mktemp -d /tmp/ls-bench-ranges-XXXX); L=bin/loopstream.js; F=$W/scan.h5
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
R=redis://127.0.0.1:$PORT
node $L simulate --rows "$SIZE" --cols "$SIZE" --seed 5 --anomalies 3 --out "$F" >/dev/null 2>&1
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --pidfile "$W/redis.pid" >/dev/null
trap 'redis-cli -p $PORT shutdown nosave >/dev/null 2>&1; rm -rf "$W"' EXIT
sleep 0.5
run() { # name workers rangePixels
  local q=$1$RANDOM n=$2 rp=$3 pids=() logs=()
  for k in $(seq "$n"); do node $L worker --redis $R --set scale.queue=$q --log-format json >/dev/null 2>"$W/$q-w$k.log" & pids+=($!); logs+=("$W/$q-w$k.log"); done
  until [ "$(cat "${logs[@]}" | grep -c 'worker ready')" = "$n" ]; do sleep 0.5; done
  local load; load=$(uptime | sed 's/.*average: //')
  node $L reprocess "$F" --bundle fixtures/models/edge-sim --redis $R --results "$W/res-$q" --wait --summary-json --log-level warn \
    --set scale.queue=$q --set scale.rangePixels="$rp" >/dev/null 2>&1
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  wait
  cat "${logs[@]}" | python3 -c '
import json, sys
start, end = [], []
for line in sys.stdin:
    try: o = json.loads(line)
    except ValueError: continue
    if o.get("msg") == "job started": start.append(o["time"])
    if o.get("msg") == "job completed": end.append(o["time"])
print(f"'"$1"': {len(end)} job(s), first start to last completion {(max(end) - min(start)) / 1000:.2f} s (load '"$load"')")'
}
echo "${SIZE}x${SIZE} scan, scale.rangePixels=$RP"
for _ in $(seq "$REPEATS"); do run one-job-1-worker 1 0; run ranges-1-worker 1 "$RP"; run ranges-2-workers 2 "$RP"; done
