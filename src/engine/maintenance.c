/* maintenance.c — periodic chores of the cold path (see maintenance.h): expired uploads go, rows
 * first and objects after; scratch left by dead processes goes. */
#include "engine/maintenance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/log.h"

enum { EXPIRE_BATCH = 256, EXPIRE_BATCHES_PER_RUN = 16 };

int maintenance_expire_uploads(store *db, blob_store *blobs, int64_t now, size_t limit)
{
    upload_record *expired = NULL;
    size_t count = 0;
    if (store_uploads_take_expired(db, now, limit, &expired, &count) != STORE_OK) return -1;
    for (size_t i = 0; i < count; i++) {
        char folder[64];
        snprintf(folder, sizeof(folder), "uploads/%s", expired[i].id);
        if (blob_remove_prefix(blobs, folder) != 0)
            log_warn("cannot remove an expired upload", "upload=%s", expired[i].id);
        else
            log_info("upload expired", "upload=%s key=%s size=%lld", expired[i].id, expired[i].key_id,
                     (long long)expired[i].size);
    }
    free(expired);
    return (int)count;
}

void maintenance_run_if_due(store *db, blob_store *blobs, int64_t now_ms, int64_t interval_ms,
                            int64_t *next_run_ms)
{
    if (now_ms < *next_run_ms) return;
    *next_run_ms = now_ms + (interval_ms > 0 ? interval_ms : MAINTENANCE_DEFAULT_INTERVAL_MS);
    for (int batch = 0; batch < EXPIRE_BATCHES_PER_RUN; batch++)
        if (maintenance_expire_uploads(db, blobs, now_ms / 1000, EXPIRE_BATCH) < EXPIRE_BATCH) break;
    /* idempotency keys past their 24 hours: admission ignores them already, this keeps the table small */
    /* scratch of processes killed without cleaning up, and our own stale scratch */
    if (blob_scratch_sweep(blobs, BLOB_SCRATCH_MAX_AGE_SECONDS) < 0)
        log_warn("the scratch area could not be swept; trying again next run", "errno=%d", errno);
    if (store_idempotency_expire(db, now_ms / 1000) != STORE_OK)
        log_warn("old idempotency keys could not be deleted; trying again next run", "ttl_seconds=%d",
                 STORE_IDEMPOTENCY_TTL_SECONDS);
}
