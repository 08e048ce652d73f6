/* bench_records.h — what reelay hands the store for one sora-2 task on a fal channel, built the way the
 * API and the engine build it, for reelay-bench-engine (bench/engine/README.md):
 *   - the task of an admission: params_json is catalog_validate's canonical output for a sora-2 request
 *     with a prompt, duration 8 and a callback_url, as api/generations.c stores it (json_dumps compact);
 *     credits_reserved and billing_json are the default price table's quote (catalog/prices.h);
 *   - the engine's upstream records (engine/runner_steps.c upstream_record): phase "sending" when the
 *     task is routed, phase "accepted" with fal's job (request id, status, response and cancel URLs)
 *     once the provider took it;
 *   - the results of a completion (engine/task_completion.c): the stored MP4 with its poster and
 *     spritesheet, RESULT_SECONDS long.
 * The fal request id of a task is derived from its id (a UUID-shaped hash), so a check can rebuild it. */
#ifndef REELAY_BENCH_ENGINE_RECORDS_H
#define REELAY_BENCH_ENGINE_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define BENCH_MODEL "sora-2"
#define BENCH_CHANNEL "fal-main"
#define BENCH_CALLBACK_URL "https://hooks.example.com/reelay/video-finished?account=acme-prod"
#define BENCH_RESULT_SECONDS                                                                                 \
    7.96 /* a rendered 8 s video is a little shorter: the settlement refunds the rest */
#define BENCH_TASK_TIMEOUT_SECONDS 3600 /* reelay serve's default --task-timeout */

/* What every task of a run shares: the validated parameters (without a prompt of their own yet) and the
 * quote. Build once, before any thread starts; not thread-safe. */
typedef struct bench_template {
    void *params;       /* json_t *: catalog_validate's output; owned */
    char *billing_json; /* price_quote_json of the quote; owned */
    int64_t reserve;    /* credits reserved per task */
    int64_t charge;     /* what a completion with a RESULT_SECONDS result charges (price_settle) */
    char user_group[32];
} bench_template;

/* Validates the sora-2 request and prices it with the built-in price table. False with why in err. */
bool bench_template_init(bench_template *out, char *err, size_t err_size);
void bench_template_clear(bench_template *tmpl);

/* Fills task as api/generations.c does for a new submission of key_id: a fresh id (util/ids.h), state
 * pending, times from `now`, the template's parameters with prompt number `number`, the reservation and
 * billing record. The owned strings are malloc'd (task_record_clear frees them). False when out of memory
 * (task is then cleared). Uses the template's parameters object: one thread at a time. */
bool bench_task_fill(task_record *task, const bench_template *tmpl, const char *key_id, size_t number,
                     int64_t now);

/* fal's job of a task: the request id (UUID-shaped, derived from task_id) and its queue URLs. */
typedef struct bench_job {
    char id[40];
    char status_url[256], result_url[256], cancel_url[256];
} bench_job;
void bench_job_of(const char *task_id, bench_job *out);

/* The engine's upstream record in `phase` on BENCH_CHANNEL, with the job when not NULL. Malloc'd JSON
 * text (free()), NULL when out of memory. Thread-safe. */
char *bench_upstream_record(const char *phase, const bench_job *job);
/* The results_json of a completed task: malloc'd JSON text (free()), NULL when out of memory. */
char *bench_results_json(const char *task_id);

#endif
