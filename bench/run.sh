#!/usr/bin/env bash
# API-path benchmark: wrk against reelay's GET /v1/tasks/{id} and POST /v1/videos/generations, each
# next to nginx answering `return 200` with a JSON body of the same size, in the same run. Prints
# requests/s and the ratio reelay/nginx. The engine is paused, so only the API path is measured; the
# access log is on, as by default (REELAY_ACCESS_LOG=0 to measure without it).
# Then one more wrk run per path, not measured, while perf samples reelay: a flame graph of each path is
# saved as bench/results/flame-poll.html and flame-submit.html (perf's flamegraph report, filled into
# d3-flame-graph's template from bench/node_modules: `cd bench && npm ci`).
# Usage: bench/run.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
THREADS=2
BIN=${REELAY_BIN:-build/reelay}
WORK=$(mktemp -d /tmp/reelay-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

# --- reelay, engine paused, access log off (nginx logs nothing either) ---
RPORT=$(free_port)
"$BIN" init --data "$WORK/data" --json > "$WORK/init.json"
KEY=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$WORK/init.json")
KEY_ID=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_id"])' "$WORK/init.json")
# every accepted submit reserves its price: enough credits that the run measures admissions, not 402s
"$BIN" credits grant "$KEY_ID" 1000000000000 --data "$WORK/data" > /dev/null
REELAY_ACCESS_LOG=${REELAY_ACCESS_LOG:-1} "$BIN" serve --data "$WORK/data" --listen 127.0.0.1:$RPORT --threads $THREADS --engine-paused \
  2> "$WORK/reelay.log" > /dev/null &
PIDS+=($!)
wait_http "http://127.0.0.1:$RPORT/healthz"

SUBMIT_BODY='{"model":"sora-2","prompt":"a red fox running through fresh snow at dawn","duration":4}'
CREATED=$(curl -fs "http://127.0.0.1:$RPORT/v1/videos/generations" -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: application/json' -d "$SUBMIT_BODY")
TASK=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$CREATED")
POLL_BYTES=$(curl -fs "http://127.0.0.1:$RPORT/v1/tasks/$TASK" -H "Authorization: Bearer $KEY" | wc -c)
SUBMIT_BYTES=${#CREATED}

# --- nginx: same worker count, constant JSON bodies of the same sizes ---
NPORT=$(free_port)
body_of() { /usr/bin/python3 -c 'import sys; n=int(sys.argv[1]); print(("{\"pad\":\"" + "x"*max(0,n-10) + "\"}")[:n] if n>=10 else "{}", end="")' "$1"; }
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes $THREADS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx; uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT reuseport;
    default_type application/json;
    location = /poll { return 200 '$(body_of "$POLL_BYTES")'; }
    location = /submit { return 200 '$(body_of "$SUBMIT_BYTES")'; }
  }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
PIDS+=($!)
wait_http "http://127.0.0.1:$NPORT/poll"

cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$SUBMIT_BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
cat > "$WORK/post-nginx.lua" <<LUA
wrk.method = "POST"
wrk.body = '$SUBMIT_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

rate() { awk '/Requests\/sec/ {print $2}'; }
run_wrk() { wrk -t2 -c"$CONNECTIONS" -d"${WRK_SECONDS:-$DURATION}s" "$@" 2>&1; }

echo "reelay bench: ${DURATION}s per run, $CONNECTIONS connections, $THREADS threads each; bodies: poll ${POLL_BYTES} B, submit ${SUBMIT_BYTES} B"
N_POLL=$(run_wrk "http://127.0.0.1:$NPORT/poll" | rate)
R_POLL_OUT=$(run_wrk -H "Authorization: Bearer $KEY" "http://127.0.0.1:$RPORT/v1/tasks/$TASK")
R_POLL=$(echo "$R_POLL_OUT" | rate)
N_SUBMIT=$(run_wrk -s "$WORK/post-nginx.lua" "http://127.0.0.1:$NPORT/submit" | rate)
R_SUBMIT_OUT=$(run_wrk -s "$WORK/post.lua" "http://127.0.0.1:$RPORT/v1/videos/generations")
R_SUBMIT=$(echo "$R_SUBMIT_OUT" | rate)
if echo "$R_POLL_OUT$R_SUBMIT_OUT" | grep -q "Non-2xx"; then
  echo "reelay answered non-2xx during the run:"; echo "$R_POLL_OUT$R_SUBMIT_OUT" | grep "Non-2xx"; exit 1
fi
printf '%-8s %12s %12s %8s\n' "path" "reelay r/s" "nginx r/s" "ratio"
row() { awk -v p="$1" -v r="$2" -v n="$3" 'BEGIN { printf "%-8s %12.0f %12.0f %8.2f\n", p, r, n, r / n }'; }
row poll "$R_POLL" "$N_POLL"
row submit "$R_SUBMIT" "$N_SUBMIT"

# --- flame graphs: one more run per path while perf samples reelay (with DWARF call stacks) ---
RESULTS=${REELAY_BENCH_RESULTS:-bench/results}
TEMPLATE=bench/node_modules/d3-flame-graph/dist/templates/d3-flamegraph-base.html
RPID=$(pgrep -f "serve --data $WORK/data" | head -1)
flame() { # name, wrk arguments…
  local name=$1; shift
  WRK_SECONDS=6 run_wrk "$@" > /dev/null &
  local load=$!
  sleep 1
  mkdir -p "$WORK/$name" # perf's report reads ./perf.data
  perf record -q -F 499 --call-graph dwarf,16384 -p "$RPID" -o "$WORK/$name/perf.data" -- sleep 4 \
    2> "$WORK/$name.perf.log" || true
  wait "$load" || true
  if (cd "$WORK/$name" && perf script report flamegraph --template "$OLDPWD/$TEMPLATE" -o "$OLDPWD/$RESULTS/flame-$name.html") \
      > "$WORK/$name.report.log" 2>&1; then
    echo "flame graph: $RESULTS/flame-$name.html"
  else
    echo "no flame graph for $name: $(cat "$WORK/$name.perf.log" "$WORK/$name.report.log" | tail -2)" >&2
  fi
}
if ! command -v perf > /dev/null || [ ! -f "$TEMPLATE" ] || [ -z "$RPID" ]; then
  echo "no flame graphs: needs perf (linux-perf), $TEMPLATE (cd bench && npm ci) and reelay running" >&2
else
  mkdir -p "$RESULTS"
  flame poll -H "Authorization: Bearer $KEY" "http://127.0.0.1:$RPORT/v1/tasks/$TASK"
  flame submit -s "$WORK/post.lua" "http://127.0.0.1:$RPORT/v1/videos/generations"
fi
