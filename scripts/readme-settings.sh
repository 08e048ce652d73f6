#!/bin/sh
# Rewrites the README's table of settings (between its settings:begin and settings:end markers) with
# what the binary prints from the settings table: `reelay settings --markdown`. test_cli_readme fails
# until the two agree. Usage: scripts/readme-settings.sh [path/to/reelay] (default build/reelay).
set -eu
BIN=${1:-build/reelay}
cd "$(dirname "$0")/.."
table=$(mktemp)
out=$(mktemp)
trap 'rm -f "$table" "$out"' EXIT
"$BIN" settings --markdown > "$table"
awk -v table="$table" '
  /^<!-- settings:end -->/ { skipping = 0; ended = 1 }
  !skipping { print }
  /^<!-- settings:begin/ { while ((getline line < table) > 0) print line; skipping = 1; begun = 1 }
  END { if (!begun || !ended) { print "README.md has no settings:begin/end markers" > "/dev/stderr"; exit 1 } }
' README.md > "$out"
cat "$out" > README.md
