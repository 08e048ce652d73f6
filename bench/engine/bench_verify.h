/* bench_verify.h — reelay-bench-engine checks its own work (bench/engine/README.md): after every task
 * went through the engine's writes, it reads back what the store holds and fails the run when anything
 * is not what those writes must have left:
 *   - every task is completed (store_task_count_by_state), none in any other state;
 *   - a sample of tasks (about 1000, spread over the run, the first and last included) is completed with
 *     progress 100, on the bench's channel, with its reservation, the expected results and the engine's
 *     "accepted" upstream record naming its fal job; and its callback is queued, due, for the request's
 *     callback_url;
 *   - every key's balance: available = granted − tasks × the settlement's charge, nothing reserved, no
 *     unfinished task; its two newest ledger entries are settlements of exactly that charge, releasing
 *     exactly the reservation;
 *   - the store's credits audit (store_credits_audit, what `reelay credits audit` runs) finds no problem,
 *     over every task and key. */
#ifndef REELAY_BENCH_ENGINE_VERIFY_H
#define REELAY_BENCH_ENGINE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_records.h"
#include "store/store.h"

typedef char bench_task_id[IDS_TASK_ID_SIZE];
typedef char bench_key_id[32];

/* What the run did: task i belongs to key i % key_count; key k was granted key_grants[k] credits. */
typedef struct bench_expectations {
    const bench_task_id *task_ids;
    size_t task_count;
    const bench_key_id *key_ids;
    size_t key_count;
    const int64_t *key_grants;
    const bench_template *tmpl;
} bench_expectations;

typedef struct bench_verdict {
    size_t sampled_tasks; /* tasks read back one by one */
    credit_audit audit;   /* the store's own audit */
    int64_t audit_ns;     /* how long the audit took */
    char problem[512];    /* the first thing found wrong; "" when everything holds */
} bench_verdict;

/* The number of tasks of key k in a run of task_count tasks over key_count keys. */
size_t bench_tasks_of_key(size_t task_count, size_t key_count, size_t k);

/* Runs every check above on db (read-only). True when all hold; false with out->problem set. */
bool bench_verify(store *db, const bench_expectations *expect, bench_verdict *out);

#endif
