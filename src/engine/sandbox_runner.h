/* sandbox_runner.h — the built-in sandbox channel: fetches a task's inputs through the guarded
 * client (or reads this server's own uploads and results from storage), checks they are the media
 * they claim to be, renders the labelled synthetic MP4 locally and stores it. Internal to the engine. */
#ifndef REELAY_ENGINE_SANDBOX_RUNNER_H
#define REELAY_ENGINE_SANDBOX_RUNNER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "blob/blob.h"
#include "engine/local_inputs.h"
#include "net/fetch.h"
#include "store/store.h"

typedef struct sandbox_outcome {
    char error_code[48]; /* on failure: task error code, e.g. "input_unreachable" */
    char error_message[512];
} sandbox_outcome;

/* Runs one task (already in state processing) to its end: the render is stored and the task completed
 * (engine/task_completion.h). Inputs that are this server's own signed file links (local may be NULL:
 * none are) are taken from local storage, others fetched. Blocks the calling worker. Reports progress
 * into the store as it goes. Returns 0 when completed, 1 when cancelled (flag set) or finished meanwhile
 * (nothing kept), -1 on failure with outcome->error_code/message ("timeout" when the task's deadline cut
 * the render; the caller fails the task). */
int sandbox_run_task(store *db, blob_store *blobs, const fetch_policy *fetch, const local_inputs *local,
                     const task_record *task, atomic_bool *cancel, sandbox_outcome *outcome);

#endif
