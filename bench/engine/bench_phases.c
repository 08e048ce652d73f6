/* bench_phases.c — the store calls of each phase of reelay-bench-engine, the threads that make them, and
 * the checkpoint thread (see bench_engine.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_engine.h"
#include "catalog/prices.h"
#include "util/clock.h"

enum { CHECKPOINT_INTERVAL_S = 1 };

const char *const bench_phase_names[PHASE_COUNT] = {"admit", "route",    "submit",
                                                    "poll",  "finalize", "complete"};
const int bench_phase_reads[PHASE_COUNT] = {[PHASE_ROUTE] = 1, [PHASE_COMPLETE] = 1};

/* ---- one task's store calls, phase by phase ---- */

static bool failed(worker *w, const char *what, size_t i, store_status status)
{
    snprintf(w->failure, sizeof(w->failure), "%s of task %s: store status %d", what, w->b->task_ids[i],
             (int)status);
    return false;
}

static void timed(worker *w, int64_t started_ns)
{
    latency_add(&w->samples, bench_now_ns() - started_ns);
}

static bool admit_batch(worker *w, size_t first, size_t count)
{
    bench *b = w->b;
    task_admission items[BENCH_MAX_BATCH];
    for (size_t k = 0; k < count; k++)
        items[k] = (task_admission){.task = &b->admitting[first + k]};
    store *db = b->admission_db ? b->admission_db : w->db;
    int64_t started = bench_now_ns();
    store_status status = store_task_admit(db, items, count, true);
    timed(w, started);
    if (status != STORE_OK) return failed(w, "admission", first, status);
    for (size_t k = 0; k < count; k++)
        if (items[k].outcome != ADMIT_CREATED) {
            snprintf(w->failure, sizeof(w->failure), "admission of task %s: outcome %d, not created",
                     b->task_ids[first + k], (int)items[k].outcome);
            return false;
        }
    return true;
}

static bool route_task(worker *w, size_t i)
{
    const char *id = w->b->task_ids[i];
    task_record task;
    memset(&task, 0, sizeof(task));
    store_status read = store_task_get(w->db, id, &task);
    task_state from = task.state;
    task_record_clear(&task);
    if (read != STORE_OK || from != TASK_PENDING) return failed(w, "reading before routing", i, read);
    char *record = bench_upstream_record("sending", NULL);
    if (record == NULL) return failed(w, "the sending record", i, STORE_ERROR);
    int64_t started = bench_now_ns();
    store_status status = store_task_set_upstream(w->db, id, from, TASK_SUBMITTING, BENCH_CHANNEL, record,
                                                  clock_unix_seconds());
    timed(w, started);
    free(record);
    return status == STORE_OK || failed(w, "routing", i, status);
}

static bool accept_task(worker *w, size_t i)
{
    const char *id = w->b->task_ids[i];
    bench_job job;
    bench_job_of(id, &job);
    char *record = bench_upstream_record("accepted", &job);
    if (record == NULL) return failed(w, "the accepted record", i, STORE_ERROR);
    int64_t started = bench_now_ns();
    store_status status = store_task_set_upstream(w->db, id, TASK_SUBMITTING, TASK_PROCESSING, NULL, record,
                                                  clock_unix_seconds());
    timed(w, started);
    free(record);
    return status == STORE_OK || failed(w, "recording the submit", i, status);
}

static bool poll_task(worker *w, size_t i, int round)
{
    int progress = round * 90 / (w->b->opt.polls + 1); /* fal gives none: the engine's estimate, up to 90 */
    int64_t started = bench_now_ns();
    store_status status = store_task_set_progress(w->db, w->b->task_ids[i], progress, clock_unix_seconds());
    timed(w, started);
    return status == STORE_OK || failed(w, "a poll's progress", i, status);
}

static bool finalize_task(worker *w, size_t i)
{
    int64_t started = bench_now_ns();
    store_status status = store_task_transition(w->db, w->b->task_ids[i], TASK_PROCESSING, TASK_FINALIZING,
                                                NULL, clock_unix_seconds());
    timed(w, started);
    return status == STORE_OK || failed(w, "finalizing", i, status);
}

static bool complete_task(worker *w, size_t i)
{
    const char *id = w->b->task_ids[i];
    task_record task; /* the finishing thread reads the billing record, as settled_charge does */
    memset(&task, 0, sizeof(task));
    store_status read = store_task_get(w->db, id, &task);
    int64_t charge = price_settle(task.billing_json, BENCH_RESULT_SECONDS);
    task_record_clear(&task);
    if (read != STORE_OK) return failed(w, "reading before completing", i, read);
    char *results = bench_results_json(id);
    if (results == NULL) return failed(w, "the results", i, STORE_ERROR);
    int64_t started = bench_now_ns();
    store_status status =
        store_task_complete(w->db, id, TASK_FINALIZING, results, charge, clock_unix_seconds());
    timed(w, started);
    free(results);
    return status == STORE_OK || failed(w, "completing", i, status);
}

/* One thread's share of the current phase; stops at the first call that did not go as expected. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    bool fine = true;
    switch (w->phase) {
    case PHASE_ADMIT:
        for (size_t i = w->first; fine && i < w->end; i += (size_t)w->b->opt.batch) {
            size_t count = w->end - i < (size_t)w->b->opt.batch ? w->end - i : (size_t)w->b->opt.batch;
            fine = admit_batch(w, i, count);
        }
        break;
    case PHASE_POLL: /* round by round over every task, as polls of many tasks in flight interleave */
        for (int round = 1; fine && round <= w->b->opt.polls; round++)
            for (size_t i = w->first; fine && i < w->end; i++)
                fine = poll_task(w, i, round);
        break;
    default:
        for (size_t i = w->first; fine && i < w->end; i++)
            fine = w->phase == PHASE_ROUTE      ? route_task(w, i)
                   : w->phase == PHASE_SUBMIT   ? accept_task(w, i)
                   : w->phase == PHASE_FINALIZE ? finalize_task(w, i)
                                                : complete_task(w, i);
        break;
    }
    return NULL;
}

/* ---- phases ---- */

static int64_t phase_transitions(const bench *b, phase_id phase)
{
    int64_t tasks = (int64_t)b->opt.tasks;
    return phase == PHASE_POLL ? tasks * b->opt.polls : tasks;
}

bool bench_run_phase(bench *b, phase_id phase)
{
    int threads = b->opt.threads;
    pthread_t ids[BENCH_MAX_THREADS];
    int64_t started = bench_now_ns(), cpu_started = bench_process_cpu_ns();
    int running = 0;
    for (; running < threads; running++) {
        worker *w = &b->workers[running];
        w->phase = phase;
        w->samples.count = 0;
        if (pthread_create(&ids[running], NULL, worker_main, w) != 0) {
            snprintf(w->failure, sizeof(w->failure), "a thread could not start");
            break;
        }
    }
    for (int t = 0; t < running; t++)
        pthread_join(ids[t], NULL);
    phase_result *r = &b->results[phase];
    r->wall_ns = bench_now_ns() - started;
    r->cpu_ns = bench_process_cpu_ns() - cpu_started;
    latency_samples merged = {0};
    bool fine = true;
    for (int t = 0; t < threads; t++) {
        if (b->workers[t].failure[0]) {
            fprintf(stderr, "reelay-bench-engine: %s: %s\n", bench_phase_names[phase], b->workers[t].failure);
            fine = false;
        }
        if (!latency_merge(&merged, &b->workers[t].samples) ||
            !latency_merge(&b->all_writes, &b->workers[t].samples))
            fine = false;
    }
    latency_sort(&merged);
    r->calls = (int64_t)merged.count;
    r->p50_ns = latency_percentile(&merged, 50);
    r->p99_ns = latency_percentile(&merged, 99);
    r->max_ns = latency_percentile(&merged, 100);
    r->tasks = (int64_t)b->opt.tasks;
    r->transitions = phase_transitions(b, phase);
    latency_clear(&merged);
    return fine;
}

/* ---- the checkpoint thread (the engine's deadline thread checkpoints every second) ---- */

static void *checkpoint_main(void *arg)
{
    bench *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += CHECKPOINT_INTERVAL_S;
        pthread_cond_timedwait(&b->stop, &b->lock, &until);
        if (b->stopping) break;
        pthread_mutex_unlock(&b->lock);
        if (store_checkpoint(b->checkpoint_db) != STORE_OK) atomic_fetch_add(&b->checkpoint_errors, 1);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

void bench_checkpointer_stop(bench *b)
{
    if (!b->checkpointer_running) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_signal(&b->stop);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->checkpointer, NULL);
    b->checkpointer_running = false;
}

bool bench_checkpointer_start(bench *b)
{
    b->stopping = false;
    b->checkpointer_running = pthread_create(&b->checkpointer, NULL, checkpoint_main, b) == 0;
    return b->checkpointer_running;
}
