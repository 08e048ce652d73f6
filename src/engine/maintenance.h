/* maintenance.h — the cold path's periodic chores, run from the engine's deadline thread: today the
 * expiry of uploads (rows first, then their objects, so that no row ever names a missing object), the
 * removal of results whose links expired (maintenance_expire_results), of idempotency keys past their
 * TTL, and the sweep of the scratch area (blob_scratch_sweep: what dead
 * processes left, and entries older than BLOB_SCRATCH_MAX_AGE_SECONDS).
 * Each chore is bounded per run, so one run never holds the deadline thread for long. */
#ifndef REELAY_ENGINE_MAINTENANCE_H
#define REELAY_ENGINE_MAINTENANCE_H

#include <stdint.h>

#include "blob/blob.h"
#include "store/store.h"

enum { MAINTENANCE_DEFAULT_INTERVAL_MS = 60000, RESULT_RETENTION_MAX_MARGIN_SECONDS = 600 };

/* Runs the chores when *next_run_ms has come (0 = at once) and sets the next run interval_ms later
 * (0 = MAINTENANCE_DEFAULT_INTERVAL_MS). link_ttl_seconds: how long result links live after their task
 * completed (0 = results are kept forever). Blocks for the sweep: call on a background thread. */
void maintenance_run_if_due(store *db, blob_store *blobs, int64_t now_ms, int64_t interval_ms,
                            int64_t link_ttl_seconds, int64_t *next_run_ms);

/* How long after its task completed a result is kept: the link lifetime plus a margin of a tenth of
 * it, at most RESULT_RETENTION_MAX_MARGIN_SECONDS (nodes' clocks may differ by that much: a link signed
 * on one node is checked on another). 0 when link_ttl_seconds <= 0 (kept forever). Pure. */
int64_t maintenance_result_retention(int64_t link_ttl_seconds);

/* Removes the results (the folders results/<task id>) of tasks completed more than
 * maintenance_result_retention(link_ttl_seconds) before `now` (Unix seconds), or of tasks that no longer
 * exist, at most `limit` folders per call. The bucket or folder is listed (objects written within the
 * retention are skipped without a look-up), then each candidate's task is read from the store: its
 * completion time decides, so a result re-written later, or a store error, keeps it. A link to a removed
 * result had expired already and answers what an expired link answers (410). Returns the number of
 * folders removed, or -1 when the listing failed. */
int maintenance_expire_results(store *db, blob_store *blobs, int64_t now, int64_t link_ttl_seconds,
                               size_t limit);

/* Deletes uploads past their expiry at `now` (Unix seconds) and their objects: at most `limit` per
 * call. Returns the number deleted, or -1 on a store error. */
int maintenance_expire_uploads(store *db, blob_store *blobs, int64_t now, size_t limit);

#endif
