#!/usr/bin/env bash
# No provider is named outside src/upstream/: fails when a provider's name from the table (the `.name`
# of every `const upstream_provider` in src/upstream/*.c, the sandbox included) appears as a whole C
# string literal ("fal", "sandbox", …) in src/api/ or src/engine/, printing each offence as file:line.
# What a provider does is asked of its table entry (upstream/upstream.h), never decided by comparing its
# name. Literals that merely contain a name ("fal-ai/…", "{\"phase\":\"sandbox\"}") are not flagged.
#
# The same word with another meaning is allowed only where listed in ALLOWED below, by file and the
# exact line (surrounding spaces ignored), with the reason: if that line changes, the check fails again
# and the exception has to be looked at anew.
#   Usage: scripts/check-provider-literals.sh [source-root]      (a CTest test: provider_literals)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# file|exact line|why it is not a provider's name
ALLOWED=(
  'src/api/files.c|http_add_header(req, "content-security-policy", "sandbox");|the CSP directive that gives a served file an opaque origin'
)

# The names, read from the table definitions themselves.
mapfile -t names < <(awk '
  /^const upstream_provider [a-z_]+ = \{/ { inside = 1; next }
  inside && /^\};/ { inside = 0 }
  inside && match($0, /^[[:space:]]*\.name[[:space:]]*=[[:space:]]*"[^"]+"/) {
    line = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", line); sub(/"$/, "", line); print line
  }' src/upstream/*.c | sort -u)
if [ "${#names[@]}" -lt 2 ]; then
  echo "check-provider-literals: found ${#names[@]} provider names in src/upstream/*.c; the table's form changed?" >&2
  exit 2
fi

allowed() { # file, line
  local entry file text trimmed
  trimmed=$(sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' <<<"$2")
  for entry in "${ALLOWED[@]}"; do
    file=${entry%%|*}
    text=${entry#*|}
    text=${text%%|*}
    [ "$file" = "$1" ] && [ "$text" = "$trimmed" ] && return 0
  done
  return 1
}

pattern=$(printf '"%s"|' "${names[@]}")
pattern=${pattern%|}
status=0
while IFS= read -r hit; do
  file=${hit%%:*}
  rest=${hit#*:}
  number=${rest%%:*}
  line=${rest#*:}
  allowed "$file" "$line" && continue
  echo "$file:$number: a provider named in a literal: $(sed -e 's/^[[:space:]]*//' <<<"$line")"
  status=1
done < <(grep -rnE --include='*.c' --include='*.h' "$pattern" src/api src/engine || true)
if [ $status -ne 0 ]; then
  echo "check-provider-literals: ask the provider's table entry (src/upstream/upstream.h) instead" >&2
else
  echo "check-provider-literals: no provider named in src/api or src/engine (${names[*]})"
fi
exit $status
