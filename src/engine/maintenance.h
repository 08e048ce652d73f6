/* maintenance.h — the cold path's periodic chores, run from the engine's deadline thread: today the
 * expiry of uploads (rows first, then their objects, so that no row ever names a missing object), of
 * idempotency keys past their TTL, and the sweep of the scratch area (blob_scratch_sweep: what dead
 * processes left, and entries older than BLOB_SCRATCH_MAX_AGE_SECONDS).
 * Each chore is bounded per run, so one run never holds the deadline thread for long. */
#ifndef REELAY_ENGINE_MAINTENANCE_H
#define REELAY_ENGINE_MAINTENANCE_H

#include <stdint.h>

#include "blob/blob.h"
#include "store/store.h"

enum { MAINTENANCE_DEFAULT_INTERVAL_MS = 60000 };

/* Runs the chores when *next_run_ms has come (0 = at once) and sets the next run interval_ms later
 * (0 = MAINTENANCE_DEFAULT_INTERVAL_MS). Blocks for the sweep: call on a background thread. */
void maintenance_run_if_due(store *db, blob_store *blobs, int64_t now_ms, int64_t interval_ms,
                            int64_t *next_run_ms);

/* Deletes uploads past their expiry at `now` (Unix seconds) and their objects: at most `limit` per
 * call. Returns the number deleted, or -1 on a store error. */
int maintenance_expire_uploads(store *db, blob_store *blobs, int64_t now, size_t limit);

#endif
