#!/usr/bin/env bash
# check-sizes.sh — lists every C file under src/ (or the folders given) longer than 800 lines and every
# function longer than 80 lines, and exits 1 unless each of them says why it is long:
#
#   a function:  a line containing "long on purpose:" in the comment directly above it (the comment
#                block whose last line is the line before the function's first);
#   a file:      a line containing "long on purpose:" in its first 15 lines (its top comment).
#
# e.g. /* ... long on purpose: one switch over every state, each case two lines; split, it reads worse. */
# A function's lines go from its first line (return type and name) to its closing brace, as
# universal-ctags reports them (its `end` field). Limits: MAX_FILE_LINES, MAX_FUNCTION_LINES.
# Exit status: 0 when every offender gives its reason, 1 when one does not, 2 when the tools are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

max_file_lines=${MAX_FILE_LINES:-800}
max_function_lines=${MAX_FUNCTION_LINES:-80}
marker="long on purpose:"
roots=("$@")
[ ${#roots[@]} -gt 0 ] || roots=(src)

if ! ctags --version 2>/dev/null | grep -q "Universal Ctags"; then
  echo "check-sizes: needs universal-ctags (Debian: apt-get install universal-ctags)" >&2
  exit 2
fi

unexplained=0
explained=0

# A file's reason: the marker in its first 15 lines.
while IFS= read -r file; do
  lines=$(wc -l <"$file")
  [ "$lines" -gt "$max_file_lines" ] || continue
  if head -n 15 "$file" | grep -qF "$marker"; then
    explained=$((explained + 1))
    echo "ok    file     $file: $lines lines (over $max_file_lines), reason given"
  else
    unexplained=$((unexplained + 1))
    echo "LONG  file     $file: $lines lines (over $max_file_lines), no \"$marker\" in its first 15 lines"
  fi
done < <(find "${roots[@]}" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)

# Whether the comment block ending on the line before `start` contains the marker.
reason_above() {
  awk -v start="$2" -v marker="$marker" '
    { text[NR] = $0 }
    END {
      for (n = start - 1; n >= 1; n--) {
        line = text[n]
        sub(/^[ \t]+/, "", line)
        if (line !~ /^(\/\*|\*|\/\/)/ && line !~ /\*\/[ \t]*$/) break
        if (index(line, marker)) exit 0
      }
      exit 1
    }' "$1"
}

# Every function definition: file, first line, last line, name (C, headers included).
while IFS=$'\t' read -r file first last name; do
  [ -n "$last" ] || continue
  length=$((last - first + 1))
  [ "$length" -gt "$max_function_lines" ] || continue
  if reason_above "$file" "$first"; then
    explained=$((explained + 1))
    echo "ok    function $file:$first $name: $length lines (over $max_function_lines), reason given"
  else
    unexplained=$((unexplained + 1))
    echo "LONG  function $file:$first $name: $length lines (over $max_function_lines), no \"$marker\" above it"
  fi
done < <(ctags -R --languages=C --langmap=C:.c.h --kinds-C=f --fields=+ne --output-format=xref \
           '--_xformat=%{input}	%{line}	%{end}	%{name}' -f - "${roots[@]}" | LC_ALL=C sort -t$'\t' -k1,1 -k2,2n)

echo "check-sizes: $unexplained long without a reason, $explained with one"
[ "$unexplained" -eq 0 ]
