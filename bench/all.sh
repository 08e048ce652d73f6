#!/usr/bin/env bash
# `make bench`: the short version of every benchmark of bench/README.md, one after another, on the
# release build. Each prints its own figures; this script stops at the first that fails.
#   1. bench/run.sh 5 64            API paths against nginx (logging on, then off) + flame graphs
#   2. reelay-bench-engine          store transitions per second: SQLite, then PostgreSQL (a throwaway
#                                   cluster, syncing every commit as in production)
#   3. bench/inflight.py --short    tasks in flight against the fal stand-in, completion latency with and
#                                   without webhooks, event streams
#   4. bench/standin/smoke.sh       the stand-in itself answers as fal does
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
step() { printf '\n=== %s\n' "$*"; }

step "stand-in smoke test"
bench/standin/smoke.sh "$BUILD/reelay-fal-standin" | tail -1
step "API paths against nginx: bench/run.sh 5 64"
REELAY_BIN=$BUILD/reelay bench/run.sh 5 64
step "engine throughput on SQLite: reelay-bench-engine --tasks 20000"
"$BUILD/reelay-bench-engine" --tasks 20000
step "engine throughput on PostgreSQL: reelay-bench-engine --backend postgres --tasks 5000"
REELAY_PG_DURABLE=1 scripts/pg-test-cluster.sh run "$BUILD/reelay-bench-engine" --backend postgres --tasks 5000
step "tasks in flight, completion latency, event streams: bench/inflight.py --short"
"$PYTHON" bench/inflight.py --short --binary "$BUILD/reelay" --standin "$BUILD/reelay-fal-standin"
