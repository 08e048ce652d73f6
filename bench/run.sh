#!/usr/bin/env bash
# API-path benchmark: wrk against reelay's GET /v1/tasks/{id} (poll) and POST /v1/videos/generations
# (submit: validated, priced, billed and committed before its 200), each next to nginx answering
# `return 200` with a JSON body of the same size, in the same run. Prints requests/s and the ratio
# reelay/nginx. The engine is paused, so only the API path is measured.
#
# Logging: first as both servers run by default — reelay's access log on (a line per request on
# stderr, here a file), nginx's access_log on (its default: the combined format into a file) — then
# with both off, beside it (BENCH_LOG_MODES="on off" by default; "on" or "off" alone to pick one).
# Each mode starts both servers afresh (a new data folder).
#
# Then, in the first mode, one more wrk run per path, not measured, while perf samples reelay: a flame
# graph of each path is saved as bench/results/flame-poll.html and flame-submit.html (perf's
# flamegraph report filled into d3-flame-graph's template from bench/node_modules: `cd bench && npm ci`).
# Usage: bench/run.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNECTIONS=${2:-64}
THREADS=2
BIN=${REELAY_BIN:-build/reelay}
RESULTS=${REELAY_BENCH_RESULTS:-bench/results}
TEMPLATE=bench/node_modules/d3-flame-graph/dist/templates/d3-flamegraph-base.html
WORK=$(mktemp -d /tmp/reelay-bench.XXXXXX)
PIDS=()
stop_servers() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }
cleanup() { stop_servers; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }
json_field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
body_of() { /usr/bin/python3 -c 'import sys; n=int(sys.argv[1]); print(("{\"pad\":\"" + "x"*max(0,n-10) + "\"}")[:n] if n>=10 else "{}", end="")' "$1"; }
SUBMIT_BODY='{"model":"sora-2","prompt":"a red fox running through fresh snow at dawn","duration":4}'

# start_reelay MODE: a fresh data folder with one key and plenty of credits; sets RPORT RPID KEY TASK
start_reelay() {
  local data="$WORK/data-$1"
  RPORT=$(free_port)
  "$BIN" init --data "$data" --json > "$WORK/init.json"
  KEY=$(json_field "$WORK/init.json" key)
  # every accepted submit reserves its price: enough credits that the run measures admissions, not 402s
  "$BIN" credits grant "$(json_field "$WORK/init.json" key_id)" 1000000000000 --data "$data" > /dev/null
  REELAY_ACCESS_LOG=$([ "$1" = on ] && echo 1 || echo 0) "$BIN" serve --data "$data" \
    --listen 127.0.0.1:$RPORT --threads $THREADS --engine-paused 2> "$WORK/reelay-$1.log" > /dev/null &
  RPID=$!
  PIDS+=($RPID)
  wait_http "http://127.0.0.1:$RPORT/healthz"
  curl -fs "http://127.0.0.1:$RPORT/v1/videos/generations" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' -d "$SUBMIT_BODY" > "$WORK/created.json"
  TASK=$(json_field "$WORK/created.json" id)
  POLL_BYTES=$(curl -fs "http://127.0.0.1:$RPORT/v1/tasks/$TASK" -H "Authorization: Bearer $KEY" | wc -c)
  SUBMIT_BYTES=$(wc -c < "$WORK/created.json")
  cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$SUBMIT_BODY'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $KEY"
LUA
}

# start_nginx MODE: the same worker count, constant JSON bodies of reelay's sizes; sets NPORT
start_nginx() {
  NPORT=$(free_port)
  local dir="$WORK/nginx-$1"
  mkdir -p "$dir"
  local access_log="access_log off;"
  [ "$1" = on ] && access_log="access_log $dir/access.log;" # nginx's default: combined, unbuffered
  cat > "$dir/nginx.conf" <<NGINX
worker_processes $THREADS;
pid $dir/nginx.pid;
error_log $dir/error.log;
daemon off;
events { worker_connections 4096; }
http {
  $access_log
  client_body_temp_path $dir;
  proxy_temp_path $dir; fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT reuseport;
    default_type application/json;
    location = /poll { return 200 '$(body_of "$POLL_BYTES")'; }
    location = /submit { return 200 '$(body_of "$SUBMIT_BYTES")'; }
  }
}
NGINX
  nginx -c "$dir/nginx.conf" -p "$dir" &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$NPORT/poll"
  cat > "$WORK/post-nginx.lua" <<LUA
wrk.method = "POST"
wrk.body = '$SUBMIT_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
}

rate() { awk '/Requests\/sec/ {print $2}'; }
run_wrk() { wrk -t2 -c"$CONNECTIONS" -d"${WRK_SECONDS:-$DURATION}s" "$@" 2>&1; }
row() { awk -v m="$1" -v p="$2" -v r="$3" -v n="$4" 'BEGIN { printf "%-8s %-8s %12.0f %12.0f %8.2f\n", m, p, r, n, r / n }'; }

# flame NAME wrk-arguments…: one more run while perf samples reelay (DWARF call stacks)
flame() {
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

echo "reelay bench: ${DURATION}s per run, $CONNECTIONS connections, $THREADS threads each;" \
  "$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
printf '%-8s %-8s %12s %12s %8s\n' "logging" "path" "reelay r/s" "nginx r/s" "ratio"
FIRST=1
for MODE in ${BENCH_LOG_MODES:-on off}; do
  start_reelay "$MODE"
  start_nginx "$MODE"
  N_POLL=$(run_wrk "http://127.0.0.1:$NPORT/poll" | rate)
  R_POLL_OUT=$(run_wrk -H "Authorization: Bearer $KEY" "http://127.0.0.1:$RPORT/v1/tasks/$TASK")
  N_SUBMIT=$(run_wrk -s "$WORK/post-nginx.lua" "http://127.0.0.1:$NPORT/submit" | rate)
  R_SUBMIT_OUT=$(run_wrk -s "$WORK/post.lua" "http://127.0.0.1:$RPORT/v1/videos/generations")
  if echo "$R_POLL_OUT$R_SUBMIT_OUT" | grep -q "Non-2xx"; then
    echo "reelay answered non-2xx during the run:"; echo "$R_POLL_OUT$R_SUBMIT_OUT" | grep "Non-2xx"; exit 1
  fi
  row "$MODE" poll "$(echo "$R_POLL_OUT" | rate)" "$N_POLL"
  row "$MODE" submit "$(echo "$R_SUBMIT_OUT" | rate)" "$N_SUBMIT"
  if [ "$FIRST" = 1 ]; then
    FIRST=0
    if ! command -v perf > /dev/null || [ ! -f "$TEMPLATE" ]; then
      echo "no flame graphs: needs perf (linux-perf) and $TEMPLATE (cd bench && npm ci)" >&2
    else
      mkdir -p "$RESULTS"
      flame poll -H "Authorization: Bearer $KEY" "http://127.0.0.1:$RPORT/v1/tasks/$TASK" >&2
      flame submit -s "$WORK/post.lua" "http://127.0.0.1:$RPORT/v1/videos/generations" >&2
    fi
  fi
  stop_servers
done
