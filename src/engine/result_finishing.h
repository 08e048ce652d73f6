/* result_finishing.h — the pool of finishing threads that turn a provider's downloaded result into a
 * completed task: each job's file is probed, stored and the task completed (engine/task_completion.h),
 * or the task failed when the file is no playable video or cannot be stored. The download itself runs
 * on the upstream runner's multi handle; only the disk and decoder work lands here, so it never holds
 * up the traffic of other tasks.
 *
 * Each thread has its own store connection. Every job's scratch folder is removed once it is done,
 * and `finished` is called (from the finishing thread) for every job taken. Jobs still queued when the
 * pool stops are dropped: their tasks stay unfinished and resume on the next start. */
#ifndef REELAY_ENGINE_RESULT_FINISHING_H
#define REELAY_ENGINE_RESULT_FINISHING_H

#include <stdbool.h>

#include "blob/blob.h"
#include "engine/result_previews.h"
#include "store/store.h"

typedef struct result_finishing result_finishing;

/* Called when a job is done: completed says whether the task completed with the result. */
typedef void (*result_finished_fn)(void *context, const char *task_id, bool completed);

/* Where the threads' store connections go. */
typedef struct result_finishing_config {
    const char *database_url; /* store_open_url's URL: NULL = SQLite in data_dir */
    const char *data_dir;
    int64_t lease_epoch;                  /* every write is fenced by the node's epoch (store.h) */
    store_task_observer_fn task_observer; /* set on each connection (store_observe_tasks); NULL = none */
    void *task_observer_context;
    result_previews *previews; /* where the completed results' previews are made; NULL = none are */
} result_finishing_config;

/* Starts `workers` threads (> 0) on the store of config, storing results into blobs (both must outlive
 * the pool). NULL when a thread or its store connection could not start (logged). */
result_finishing *result_finishing_start(const result_finishing_config *config, blob_store *blobs,
                                         int workers, result_finished_fn finished, void *context);

/* Queues the result at scratch/output.mp4 for task_id (whose state is finalizing); stated_duration is
 * the provider's word on its length (0 = none). The pool then owns the scratch folder. False when out
 * of memory or the strings do not fit (nothing queued: the caller still owns the folder). Any thread. */
bool result_finishing_push(result_finishing *pool, const char *task_id, const char *scratch,
                           double stated_duration);

/* Stops taking jobs, joins the threads (a job in progress is finished first) and frees the pool. */
void result_finishing_stop(result_finishing *pool);

#endif
