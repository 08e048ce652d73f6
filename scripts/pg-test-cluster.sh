#!/usr/bin/env bash
# pg-test-cluster.sh — a throwaway PostgreSQL cluster for the tests (Debian's postgresql package).
#
#   scripts/pg-test-cluster.sh start [DIR]   initdb into DIR (default: a new folder under $TMPDIR or /tmp),
#                                            start postgres on 127.0.0.1 on a free port, print its URL
#   scripts/pg-test-cluster.sh url DIR       print the URL of the cluster started in DIR
#   scripts/pg-test-cluster.sh stop DIR      stop it at once and delete DIR
#   scripts/pg-test-cluster.sh down DIR      stop it (pg_ctl stop -m fast: clients are cut off), keep DIR
#   scripts/pg-test-cluster.sh up DIR        start a cluster taken down again, on its port (outage tests)
#   scripts/pg-test-cluster.sh run CMD...    start one, run CMD with REELAY_TEST_DATABASE_URL set to its
#                                            URL, stop and delete it (also when CMD fails or is
#                                            interrupted); exits with CMD's status. `make test` and
#                                            `make unit` run ctest this way.
#
# The cluster listens on 127.0.0.1 only (and a Unix socket in DIR), trusts every local connection (it
# holds nothing but test data and lives for one run), and runs with fsync off — unless REELAY_PG_DURABLE=1
# (benchmarks: every commit reaches the disk, as in production). PostgreSQL refuses to run
# as root, so when this script runs as root (CI does) the cluster runs as the system user reelay-pg
# (created with useradd --system when missing; override with REELAY_PG_USER), which owns DIR.
# PG_BIN overrides the folder of initdb and pg_ctl (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

die() { echo "pg-test-cluster: $*" >&2; exit 1; }

pg_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local found
  found=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [ ! -x "$found/initdb" ]; then die "initdb not found (scripts/install-deps.sh installs postgresql)"; fi
  echo "$found"
}

# Runs a command as the cluster's owner: ourselves, or the dedicated system user when we are root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$owner" -- "$@"
  else
    "$@"
  fi
}

ensure_owner() {
  owner=$(id -un)
  [ "$(id -u)" -eq 0 ] || return 0
  owner=${REELAY_PG_USER:-reelay-pg}
  if ! id -u "$owner" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$owner" ||
      id -u "$owner" >/dev/null 2>&1 || die "cannot create the system user $owner"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local dir=${1:-}
  ensure_owner
  if [ -z "$dir" ]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/reelay-pg.XXXXXX"); else mkdir -p "$dir"; fi
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
  chmod 700 "$dir"
  [ "$(id -u)" -ne 0 ] || chown "$owner" "$dir"
  local bin
  bin=$(pg_bin)
  as_owner "$bin/initdb" -D "$dir/data" -U reelay --auth=trust --encoding=UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  # A port taken between free_port and the bind makes pg_ctl fail: try a few.
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -s \
      -o "$(server_options "$dir" "$port")" start; then
      echo "postgres://reelay@127.0.0.1:$port/postgres" >"$dir/url"
      echo "$dir" >"$dir/dir"
      cat "$dir/url"
      return 0
    fi
    echo "pg-test-cluster: start attempt $attempt on port $port failed" >&2
  done
  tail -n 20 "$dir/postgres.log" >&2 || true
  die "postgres did not start"
}

stop() {
  local dir=${1:?stop needs the cluster folder}
  [ -d "$dir/data" ] || { rm -rf "$dir"; return 0; }
  ensure_owner
  as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m immediate -w -s stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

# The options a cluster runs with, on port $2 (its folder is $1).
server_options() {
  local speed="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${REELAY_PG_DURABLE:-0}" = 1 ] && speed=""
  echo "-c listen_addresses=127.0.0.1 -p $2 -c unix_socket_directories=$1 $speed -c max_connections=200"
}

down() {
  local dir=${1:?down needs the cluster folder}
  ensure_owner
  as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w -s stop
}

up() {
  local dir=${1:?up needs the cluster folder}
  ensure_owner
  local url port
  url=$(cat "$dir/url")
  port=${url##*:}
  port=${port%%/*}
  as_owner "$(pg_bin)/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -s -o "$(server_options "$dir" "$port")" start
}

run() {
  [ $# -gt 0 ] || die "run needs a command"
  local url status=0
  run_dir=$(mktemp -d "${TMPDIR:-/tmp}/reelay-pg.XXXXXX")
  trap 'stop "$run_dir"' EXIT
  trap 'exit 130' INT TERM
  url=$(start "$run_dir")
  echo "pg-test-cluster: PostgreSQL at $url (stopped when the command ends)" >&2
  REELAY_TEST_DATABASE_URL=$url "$@" || status=$?
  return "$status"
}

command=${1:-}
shift || true
case "$command" in
  start) start "$@" ;;
  url) cat "${1:?url needs the cluster folder}/url" ;;
  stop) stop "$@" ;;
  down) down "$@" ;;
  up) up "$@" ;;
  run) run "$@" ;;
  *) die "usage: $0 start [DIR] | url DIR | stop DIR | down DIR | up DIR | run CMD..." ;;
esac
