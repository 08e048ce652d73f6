/* task_completion.h — the one way a task is completed with a video file, shared by the sandbox's
 * renders (engine/sandbox_runner.c) and the providers' downloaded results (engine/result_finishing.c).
 *
 * In order: the file is checked to be a video (unless the caller already knows what it is), stored as
 * results/<task id>/output.mp4, described for the task's results (object, content_type, duration, width,
 * height), and the task moves to completed by compare-and-set — charged on the result's real length at the
 * rate fixed when it was admitted, the rest of its reservation returned, its callback queued, all in the
 * store's one transaction. A task that finished meanwhile (cancelled, timed out) keeps nothing: the stored
 * result is removed again. Blocking (disk, store): call from a worker thread.
 *
 * Its previews (poster and spritesheet, engine/result_previews.h) come one of two ways:
 * - after completion, with a previews pool (a provider's result, engine/result_finishing.h): the result is
 *   described "previews": "pending" and queued on the pool once the task is completed, and the pool adds
 *   them to the results when they are made, so that a task never waits for its previews;
 * - before completion, without one (the sandbox's renders, engine/sandbox_runner.h: the render worker
 *   already spends seconds on the task, and the previews come with it): made from the file, stored next to
 *   it and named in its description (thumbnail, spritesheet), each absent when it could not be made or
 *   stored (the task completes without it and the log says why). */
#ifndef REELAY_ENGINE_TASK_COMPLETION_H
#define REELAY_ENGINE_TASK_COMPLETION_H

#include <stddef.h>

#include "blob/blob.h"
#include "engine/result_previews.h"
#include "media/media.h"
#include "store/store.h"

typedef struct task_completion {
    const char *task_id;
    task_state from;           /* TASK_PROCESSING (moved to finalizing first) or TASK_FINALIZING */
    const char *path;          /* the MP4 to keep: moved into the store (the caller still removes its
                                  scratch folder, whatever the outcome) */
    const media_info *info;    /* what the file is, or NULL: probe it here (it must have a video stream) */
    double stated_duration;    /* for the results when the file's own duration is unknown (0) */
    const char *billing_json;  /* the task's price terms, or NULL: read from the store */
    result_previews *previews; /* where its previews are made after completion, or NULL: before it */
} task_completion;

typedef enum {
    TASK_COMPLETION_DONE = 0, /* stored, charged and completed */
    TASK_COMPLETION_GONE,     /* the task was finished meanwhile or the store refused: nothing kept */
    TASK_COMPLETION_FAILED,   /* not completed: error_code and error_message say why; the caller fails
                                 the task (it is left as it was) */
} task_completion_result;

/* Completes what->task_id with the file at what->path (see above). error_code (≥ 32 bytes) and
 * error_message are filled on TASK_COMPLETION_FAILED: generation_failed (not a playable video) or
 * internal_error (the result could not be stored). */
task_completion_result task_complete_with_file(store *db, blob_store *blobs, const task_completion *what,
                                               char *error_code, size_t code_size, char *error_message,
                                               size_t message_size);

#endif
