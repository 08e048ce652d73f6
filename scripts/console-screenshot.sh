#!/bin/sh
# console-screenshot.sh — re-takes the README's screenshot of the console (docs/console-task.png): runs
# the console's browser tests (tests/e2e/test_console.py, which start a sandbox server) and copies their
# 1440 px screenshot of a completed task's page (video, poster, spritesheet, curl). Needs a built reelay
# (REELAY_BIN, default build/reelay), `make deps` and `make clients` (console and playwright-core).
set -eu
cd "$(dirname "$0")/.."
BIN=${REELAY_BIN:-$PWD/build/reelay}
PYTHON=${PYTHON:-/usr/bin/python3}
SHOT=tests/browser/artifacts/task-completed-1440.png
MAX_BYTES=307200 # keep the repository small: a PNG over 300 KB is refused

[ -x "$BIN" ] || { echo "console-screenshot: no reelay at $BIN (build it, or set REELAY_BIN)" >&2; exit 1; }
REELAY_BIN=$BIN "$PYTHON" -m pytest -q tests/e2e/test_console.py -k browser
size=$(wc -c < "$SHOT")
if [ "$size" -gt "$MAX_BYTES" ]; then
    echo "console-screenshot: $SHOT is $size bytes (over $MAX_BYTES); not copied" >&2
    exit 1
fi
cp "$SHOT" docs/console-task.png
echo "docs/console-task.png: $size bytes"
