#!/usr/bin/env bash
# Builds the libFuzzer harnesses (build-fuzz: clang, ASan+UBSan, -DREELAY_FUZZ=ON), replays every kept
# crash input of fuzz/regressions/<harness>/, then fuzzes each harness in turn for N seconds on a copy of
# its committed corpus fuzz/corpus/<harness>/ (new inputs and crash artifacts go to build-fuzz/runs/, the
# committed corpus is never written). Prints each harness's executions and the total; exits non-zero if
# any harness crashed, leaked or broke an invariant (the artifact's path is printed).
#   Usage: scripts/fuzz.sh [seconds-per-target] [harness…]      (make fuzz, make fuzz-smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}

if ! command -v clang >/dev/null; then
  echo "fuzz.sh: clang is missing (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 -DREELAY_FUZZ=ON \
  -DREELAY_WERROR=ON >/dev/null
cmake --build "$build" -j "$jobs" --target reelay_fuzzers >/dev/null

export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

# Longest input per harness: what its parser meets in practice, with room (media files are kept small).
max_len() {
  case "$1" in
  fuzz_net_guard | fuzz_util_data_url) echo 1024 ;;
  fuzz_blob_link) echo 2048 ;;
  fuzz_net_callback_url | fuzz_net_fetch_url | fuzz_net_webhook_verify) echo 4096 ;;
  fuzz_catalog_validate) echo 8192 ;;
  fuzz_http_multipart | fuzz_upstream_* | fuzz_util_json_scan) echo 16384 ;;
  fuzz_util_base64_stream) echo 20000 ;;
  fuzz_media_probe_io) echo 32768 ;;
  *) echo 4096 ;;
  esac
}

if [ $# -gt 0 ]; then harnesses=("$@"); else
  mapfile -t harnesses < <(find "$build/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -executable -printf '%f\n' | sort)
fi
failed=0
total=0
printf '%-28s %12s  %s\n' harness executions result
for harness in "${harnesses[@]}"; do
  binary=$build/fuzz/$harness
  run=$build/runs/$harness
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  # the kept crash inputs first: each must now pass
  if [ -d "fuzz/regressions/$harness" ] && [ -n "$(ls -A "fuzz/regressions/$harness")" ]; then
    if ! "$binary" -timeout=10 -rss_limit_mb=2048 "fuzz/regressions/$harness"/* >"$run/regressions.log" 2>&1; then
      printf '%-28s %12s  %s\n' "$harness" - "REGRESSION (see $run/regressions.log)"
      failed=1
      continue
    fi
  fi
  cp -r "fuzz/corpus/$harness/." "$run/corpus/" 2>/dev/null || true
  dictionary=()
  [ -f "fuzz/$harness.dict" ] && dictionary=(-dict="fuzz/$harness.dict")
  [[ "$harness" == fuzz_upstream_* ]] && dictionary=(-dict=fuzz/fuzz_upstream.dict)
  status=ok
  if ! "$binary" -max_total_time="$seconds" -max_len="$(max_len "$harness")" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$run/artifacts/" "${dictionary[@]}" "$run/corpus" >"$run/fuzz.log" 2>&1; then
    status="FAILED: $(ls "$run/artifacts" | head -1) (see $run/fuzz.log)"
    failed=1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/fuzz.log" | tail -1)
  executions=${executions:-0}
  total=$((total + executions))
  printf '%-28s %12s  %s\n' "$harness" "$executions" "$status"
done
printf '%-28s %12s\n' total "$total"
exit $failed
