#!/usr/bin/env bash
# stress.sh — runs every test that races threads or processes many times in a row (50 by default) and stops
# at the first failure: each unit binary below on the release and the sanitizer builds, each end-to-end test
# below against the sanitizer build. `make stress` builds both first. The three loops (release units,
# sanitizer units, end-to-end) run side by side: most of their time is spent waiting, and the extra load
# is part of the stress.
#
#   STRESS_RUNS=N    runs of each test (default 50)
#   STRESS_PARTS=…   "unit", "e2e" or "unit e2e" (default)
#   BUILD, ASAN_BUILD, PYTHON as in the Makefile
#   REELAY_TEST_DATABASE_URL  the PostgreSQL cluster of the store tests (`make stress` runs this script
#                  inside scripts/pg-test-cluster.sh run, which sets it; each store race also runs 20
#                  times on PostgreSQL per run)
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${STRESS_RUNS:-50}
PARTS=${STRESS_PARTS:-unit e2e}
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
PYTHON=${PYTHON:-/usr/bin/python3}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Unit binaries (tests/unit/<name>.c) in which threads or processes act on shared state at the same time,
# so that the outcome depends on how they interleave. Left out on purpose: tests whose only other thread
# is a loopback server answering one request at a time (test_net_fetch*, test_net_range_reader,
# test_http_server, test_engine_callback_sender): their interleaving is fixed by the conversation.
UNIT_TESTS=(
    test_store_contract     # processes opening and migrating one fresh database at once (both backends)
    test_store_task_contract # complete vs cancel racing on one task (both backends)
    test_store_tasks        # racing writers on one task; durability across kill -9 of a writing child
    test_store_credits      # threads reserving from one balance at once must never overspend it
    test_store_uploads      # racing uploads of one key must never exceed its quota together
    test_store_callbacks    # racing senders must never claim one outbox row twice
    test_store_leases       # racing claimers must never take one task twice
    test_util_secret_box    # processes creating the key file at once must all end up with one key
    test_engine_input_probe # concurrent probes of one URL must share one probe
    test_http_offload       # loop threads and a small worker pool: slow jobs, a full queue, many callers
    test_media_render       # a cancel from another thread racing a running render
    test_http_head_screen   # two loop threads screening heads while clients send, pipeline and keep alive
    test_blob_scratch       # a sweep racing live and dying processes' scratch folders and their locks
)

# End-to-end tests (tests/e2e) that race clients, processes or the engine's threads against each other.
# Left out: test_credits_limits.py::test_a_long_mixed_run_keeps_the_ledger_exact (its races — submits,
# cancels and renders at once — are the ones of the parallel-submit and cancel tests below, and at ~12 s
# a run it alone would take ten minutes); it still runs in `make test`.
E2E_TESTS=(
    # processes started together on a new data folder: every one must open and migrate it
    tests/e2e/test_fresh_folder.py::test_commands_started_together_on_a_fresh_folder_all_succeed
    # 32 submits with one Idempotency-Key from 16 threads: one task, charged once
    tests/e2e/test_credits_limits.py::test_parallel_identical_idempotent_submits_create_one_task
    # 60 submits from 24 threads against a balance for 10: exactly 10 admitted
    tests/e2e/test_credits_limits.py::test_parallel_submits_never_overspend_a_small_balance
    # a cancel racing the render worker: the render is discarded
    tests/e2e/test_tasks.py::test_cancel_while_processing_discards_the_render
    # six deliveries held by the receiver at the same time
    tests/e2e/test_callbacks.py::test_many_callbacks_are_in_flight_at_once
    # three webhooks per job racing each other and the poller: one result, downloaded once
    tests/e2e/test_upstream_fal.py::test_duplicate_webhooks_are_harmless
    # three tasks competing for a channel capped at one job in flight
    tests/e2e/test_upstream_fal.py::test_max_concurrent_caps_jobs_in_flight_on_a_channel
    # four connections flood pipelined requests and hang up while both loops answer: /healthz stays quick
    tests/e2e/test_hardening_http.py::test_a_flood_of_abandoned_pipelined_requests_stops_when_the_client_goes
    # a 40 MiB base64 upload decoded chunk by chunk on the offload pool while /healthz is polled
    tests/e2e/test_hardening_uploads.py::test_large_base64_upload_streams_off_the_loop
    # a second server and `keys create` on a live server's data folder: its scratch survives
    tests/e2e/test_hardening_uploads.py::test_a_live_servers_scratch_is_never_removed_by_another_process
    # nodes on one PostgreSQL database: a killed, a paused and a stopping node's tasks taken over, once
    tests/e2e/test_cluster_leases.py
    # the server stopping while a decode job is on a worker
    tests/e2e/test_hardening_uploads.py::test_server_stopping_mid_decoding_leaves_nothing
    # a browser following tasks live over the event stream while the engine renders them; the operator's
    # views polling while keys and channels change
    tests/e2e/test_console.py
    # OpenAI's SDK polling and streaming tasks the sandbox is rendering
    tests/e2e/test_openai_sdk.py
    # sixteen clients submitting through the admission writer; a stop while eight submit
    tests/e2e/test_admission.py
)

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/reelay-stress.XXXXXX")
STOP=$LOGS/stop # written by the first loop that fails; the others stop before their next run

# fail WHAT RUN LOG: reports a failure once, with the end of its output.
fail()
{
    echo "stress: FAILED: $1, run $2 of $RUNS (output: $3)" >>"$STOP"
    echo "stress: FAILED: $1, run $2 of $RUNS; the end of its output ($3):" >&2
    tail -n 40 "$3" >&2
}

# unit_loop BUILD_DIR: each binary RUNS times in a row, in the order above.
unit_loop()
{
    local build=$1 log
    for test in "${UNIT_TESTS[@]}"; do
        if [ ! -x "$build/$test" ]; then
            echo "stress: $build/$test is missing (build first: make stress)" >>"$STOP"
            echo "stress: $build/$test is missing (build first: make stress)" >&2
            return 1
        fi
        for run in $(seq "$RUNS"); do
            [ -e "$STOP" ] && return 1
            log="$LOGS/$(basename "$build")-$test.log"
            if ! timeout 300 "$build/$test" >"$log" 2>&1; then
                fail "$test ($build)" "$run" "$log"
                return 1
            fi
        done
        echo "stress: $test ($build): $RUNS runs passed"
    done
}

# e2e_loop: the end-to-end tests above, together, RUNS times in a row against the sanitizer build.
e2e_loop()
{
    for run in $(seq "$RUNS"); do
        [ -e "$STOP" ] && return 1
        local log="$LOGS/e2e.log"
        if ! REELAY_BIN="$PWD/$ASAN_BUILD/reelay" timeout 900 "$PYTHON" -m pytest -q -x -p no:cacheprovider \
            "${E2E_TESTS[@]}" >"$log" 2>&1; then
            fail "end-to-end $(grep -m1 -o 'FAILED [^ ]*\|ERROR [^ ]*' "$log" || echo tests)" "$run" "$log"
            return 1
        fi
    done
    echo "stress: ${#E2E_TESTS[@]} end-to-end tests: $RUNS runs passed"
}

started=$(date +%s)
echo "stress: $RUNS runs of each racing test ($PARTS); logs in $LOGS"
pids=()
case " $PARTS " in *" unit "*)
    unit_loop "$BUILD" &
    pids+=($!)
    unit_loop "$ASAN_BUILD" &
    pids+=($!)
    ;;
esac
case " $PARTS " in *" e2e "*)
    e2e_loop &
    pids+=($!)
    ;;
esac
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
elapsed=$(($(date +%s) - started))
if [ "$status" -ne 0 ]; then
    echo "stress: FAILED after ${elapsed}s:" >&2
    cat "$STOP" >&2 2>/dev/null
    exit 1
fi
echo "stress: every racing test passed $RUNS runs in a row (${elapsed}s)"
rm -rf "$LOGS"
