/* result_previews.h — the previews of a completed task's video result (its poster and spritesheet,
 * media_make_previews), made after the task is completed so that no task waits for them.
 *
 * A task completes as soon as its result is stored (engine/task_completion.h), its result marked
 * `"previews": "pending"`; a pool of low-priority threads then makes the previews of each result, oldest
 * first: it reads the stored video (in place on local storage, a copy in a scratch folder on S3), makes
 * both images with the ffmpeg program, stores each one made as results/<task>/poster.jpg and
 * spritesheet.jpg, and replaces the task's results with the mark gone and the stored previews named
 * (`thumbnail`, `spritesheet`). A preview that cannot be made is left out (the log says why); a task gone
 * meanwhile (deleted) keeps nothing. So a result's description names only previews that exist, and the
 * mark says they may still come (GET /v1/videos/{id}/content?variant=thumbnail answers 409 until then).
 *
 * The pool's threads run at nice 10, as do the ffmpeg programs they start, so that previews use the CPU
 * the serving and the completing of tasks leave. Jobs still queued when the pool stops are dropped and
 * their marks cleared (the first 10,000; the result itself is complete), so that their variants answer 404
 * rather than promise previews that will not come. */
#ifndef REELAY_ENGINE_RESULT_PREVIEWS_H
#define REELAY_ENGINE_RESULT_PREVIEWS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "blob/blob.h"
#include "media/media.h"
#include "store/store.h"

/* The member a stored result carries, with the value RESULT_PREVIEWS_PENDING, while its previews are made. */
#define RESULT_PREVIEWS_MEMBER "previews"
#define RESULT_PREVIEWS_PENDING "pending"

/* Whether a stored result (one element of a task's results) still waits for its previews. */
bool result_previews_pending(const json_t *result);

typedef enum {
    RESULT_PREVIEWS_MADE,     /* both previews stored and named in the task's results */
    RESULT_PREVIEWS_PARTIAL,  /* recorded, but one or both could not be made or stored (logged) */
    RESULT_PREVIEWS_GONE,     /* the task is gone or no longer waits for them: nothing kept */
    RESULT_PREVIEWS_DEFERRED, /* the store could not be read or written: left as it was (logged) */
} result_previews_outcome;

/* Makes the previews of video (a local file, already probed as *info; duration: its length in seconds),
 * stores each one made as results/<task_id>/poster.jpg and spritesheet.jpg and names it in result (members
 * thumbnail and spritesheet). Returns how many were stored (0 to 2); what failed is logged. Blocking
 * (ffmpeg, disk). */
int result_previews_add(blob_store *blobs, const char *task_id, const char *video, const media_info *info,
                        double duration, json_t *result);

/* Makes, stores and records the previews of task_id's stored result results/<task_id>/output.mp4, as
 * described above; info is its probe (size and container are used), duration its length in seconds (the
 * probe's, else the provider's word). Blocking (ffmpeg, disk, store): a worker thread's. */
result_previews_outcome result_previews_make(store *db, blob_store *blobs, const char *task_id,
                                             const media_info *info, double duration);

typedef struct result_previews result_previews;

/* Where the threads' store connections go. */
typedef struct result_previews_config {
    const char *database_url; /* store_open_url's URL: NULL = SQLite in data_dir */
    const char *data_dir;
    int workers;                          /* threads (> 0) */
    store_task_observer_fn task_observer; /* set on each connection (store_observe_tasks); NULL = none */
    void *task_observer_context;
} result_previews_config;

/* Starts the pool on the store of config, with the stored results in blobs (which must outlive it). NULL
 * when a thread or its store connection could not start (logged). */
result_previews *result_previews_start(const result_previews_config *config, blob_store *blobs);

/* Queues the previews of task_id's result (completed, marked pending); info and duration as for
 * result_previews_make (copied). False when out of memory or the id does not fit (nothing queued: the
 * caller clears the mark, see result_previews_give_up). Any thread. */
bool result_previews_push(result_previews *pool, const char *task_id, const media_info *info,
                          double duration);

/* Clears task_id's mark without previews (they will not be made: the queue could not take them), so that
 * its results stop promising them. Blocking (store). */
void result_previews_give_up(store *db, const char *task_id);

/* Stops taking jobs, joins the threads (a job in progress is finished first), drops the queued ones (marks
 * cleared, see above) and frees the pool. NULL is ignored. */
void result_previews_stop(result_previews *pool);

#endif
