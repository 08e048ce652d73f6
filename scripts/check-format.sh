#!/usr/bin/env bash
# Checks that every C file under src/ and tests/unit/ is formatted as .clang-format says, with the
# clang-format that scripts/install-deps.sh pins (Debian 12's clang-format-14: another version formats
# some constructs differently, so the check would disagree with an editor using it).
# `scripts/check-format.sh --fix` rewrites the files instead (what `make format` runs).
set -euo pipefail
cd "$(dirname "$0")/.."
formatter=clang-format-14
command -v "$formatter" >/dev/null || { echo "check-format: $formatter is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }
mapfile -t files < <(find src tests/unit -name '*.[ch]' | sort)
if [ "${1:-}" = "--fix" ]; then
  "$formatter" -i "${files[@]}"
  exit 0
fi
if ! "$formatter" --dry-run --Werror "${files[@]}" 2>/tmp/check-format.$$; then
  grep -E '^[^ ].*: error:' /tmp/check-format.$$ | cut -d: -f1 | sort -u | sed 's/^/  /' >&2
  echo "check-format: the files above differ from .clang-format; run 'make format' (${formatter})" >&2
  rm -f /tmp/check-format.$$
  exit 1
fi
rm -f /tmp/check-format.$$
echo "check-format: ${#files[@]} files formatted"
