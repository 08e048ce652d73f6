/* bench_engine.h — the run of reelay-bench-engine (bench/engine/README.md), shared by its main
 * (engine_bench.c: options, setup, report) and its phases (bench_phases.c: the store calls each task
 * goes through, the threads making them, and the checkpoint thread).
 *
 * Phases, in the engine's order, each over every task (so that every task is in flight at once):
 *   admit     store_task_admit, batches of `batch` (the HTTP threads' group commit, api/generations.c);
 *             on SQLite one connection shared by the admitting threads, as `reelay serve` shares it
 *   route     store_task_get, then store_task_set_upstream pending → submitting on the channel with the
 *             "sending" record (engine/runner_steps.c flight_route)
 *   submit    store_task_set_upstream submitting → processing with the "accepted" record: fal's request
 *             id and its status, response and cancel URLs (runner_steps.c job_accepted)
 *   poll      store_task_set_progress, `polls` rounds over every task (runner_steps.c set_progress)
 *   finalize  store_task_transition processing → finalizing (runner_results.c result_download_start)
 *   complete  store_task_get (the billing record), price_settle, store_task_complete: the settlement and
 *             the callback outbox row in one transaction (engine/task_completion.c)
 * A transition is one task changed by one store call. Latencies are of the writing calls only (one
 * admission call admits a batch); the reads count in the phase's time, not in its latency. */
#ifndef REELAY_BENCH_ENGINE_H
#define REELAY_BENCH_ENGINE_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_records.h"
#include "bench_stats.h"
#include "bench_verify.h"
#include "store/store.h"

enum { BENCH_MAX_THREADS = 64, BENCH_MAX_BATCH = 256, BENCH_MAX_POLLS = 20, BENCH_MAX_KEYS = 1000 };

typedef enum {
    PHASE_ADMIT,
    PHASE_ROUTE,
    PHASE_SUBMIT,
    PHASE_POLL,
    PHASE_FINALIZE,
    PHASE_COMPLETE,
    PHASE_COUNT
} phase_id;

extern const char *const bench_phase_names[PHASE_COUNT]; /* "admit", …, "complete" */
extern const int bench_phase_reads[PHASE_COUNT];         /* store reads per task besides the writes */

typedef struct bench_options {
    bool postgres;
    const char *data_dir; /* SQLite; NULL = a fresh temporary folder */
    const char *database_url;
    size_t tasks;
    int threads, batch, polls, keys;
    bool json, keep;
} bench_options;

typedef struct phase_result {
    int64_t transitions, calls, tasks, wall_ns;
    int64_t cpu_ns; /* the process's CPU time over the phase (every thread: workers and checkpointer) */
    int64_t p50_ns, p99_ns, max_ns;
} phase_result;

typedef struct bench bench;

/* One of the threads that make a phase's calls, on its own connection (as each engine thread has). */
typedef struct worker {
    bench *b;
    store *db;
    size_t first, end; /* its share of the tasks: [first, end) */
    phase_id phase;
    latency_samples samples;
    char failure[256]; /* "" while every call went as expected */
} worker;

struct bench {
    bench_options opt;
    bench_template tmpl;
    char data_dir[PATH_MAX];
    bool data_made; /* a temporary folder of ours, removed at the end */
    bench_key_id *key_ids;
    int64_t *key_grants;
    bench_task_id *task_ids;
    task_record *admitting; /* the admissions' records, built before the admit phase */
    store *setup_db;        /* setup and checks */
    store *admission_db;    /* SQLite: shared by the admitting threads; NULL = each worker's own */
    store *checkpoint_db;
    int64_t epoch; /* the node registered for the run */
    worker workers[BENCH_MAX_THREADS];
    phase_result results[PHASE_COUNT];
    latency_samples all_writes;        /* every timed call of every phase */
    double load_at_start, load_at_end; /* the machine's 1-minute load average around the phases (other
                                          work beside the bench; -1 when unknown) */
    /* the checkpoint thread */
    pthread_t checkpointer;
    bool checkpointer_running, stopping;
    pthread_mutex_t lock;
    pthread_cond_t stop;
    atomic_int checkpoint_errors;
};

/* Runs one phase on b->opt.threads workers (connections open, shares set) and fills b->results[phase].
 * False when a call did not go as expected: each failing worker's reason is printed on stderr. */
bool bench_run_phase(bench *b, phase_id phase);

/* Starts the thread that calls store_checkpoint on b->checkpoint_db every second (lock and stop must be
 * initialised); false when it could not start. Stop it with bench_checkpointer_stop (harmless when it
 * was never started). */
bool bench_checkpointer_start(bench *b);
void bench_checkpointer_stop(bench *b);

#endif
