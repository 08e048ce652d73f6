/* maintenance.c — periodic chores of the cold path (see maintenance.h): expired uploads go, rows
 * first and objects after; results whose links expired go; scratch left by dead processes goes. */
#include "engine/maintenance.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

enum { EXPIRE_BATCH = 256, EXPIRE_BATCHES_PER_RUN = 16, RESULT_EXPIRY_PER_RUN = 1024 };

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

int64_t maintenance_result_retention(int64_t link_ttl_seconds)
{
    if (link_ttl_seconds <= 0) return 0;
    int64_t margin = link_ttl_seconds / 10;
    if (margin > RESULT_RETENTION_MAX_MARGIN_SECONDS) margin = RESULT_RETENTION_MAX_MARGIN_SECONDS;
    return link_ttl_seconds + margin;
}

/* The task folders (results/<task id>) whose objects are all older than the retention, from a listing.
 * A folder's objects come one after the other (a local walk goes folder by folder; S3 lists in name
 * order, and no other name falls between "results/<id>/" and its objects). */
typedef enum { FOLDER_NEW, FOLDER_KEPT, FOLDER_DROPPED } folder_verdict;
typedef struct result_candidates {
    int64_t written_before; /* objects written at or after this are too young */
    size_t limit, count;
    char (*ids)[IDS_TASK_ID_SIZE];
    char last[IDS_TASK_ID_SIZE]; /* the folder being visited */
    folder_verdict verdict;      /* what was decided for it so far */
} result_candidates;

static int collect_old_result(void *context, const char *name, const blob_object_info *info)
{
    result_candidates *found = context;
    if (strncmp(name, "results/", 8) != 0) return 0;
    const char *id = name + 8;
    size_t id_length = strcspn(id, "/");
    if (id[id_length] != '/' || id_length == 0 || id_length >= IDS_TASK_ID_SIZE) return 0;
    if (strlen(found->last) != id_length || memcmp(found->last, id, id_length) != 0) {
        memcpy(found->last, id, id_length);
        found->last[id_length] = '\0';
        found->verdict = FOLDER_NEW;
    }
    bool young = info->modified_unix <= 0 || info->modified_unix >= found->written_before;
    if (young) { /* one young object keeps the whole folder */
        if (found->verdict == FOLDER_KEPT) found->count--;
        found->verdict = FOLDER_DROPPED;
        return 0;
    }
    if (found->verdict != FOLDER_NEW) return 0;
    if (found->count == found->limit) return 1; /* enough for this run */
    memcpy(found->ids[found->count++], found->last, id_length + 1);
    found->verdict = FOLDER_KEPT;
    return 0;
}

/* Whether the results of task `id` may go: its links expired `retention` seconds ago (or no such task
 * exists any more: nothing links to them). A store error keeps them. */
static bool result_links_expired(store *db, const char *id, int64_t now, int64_t retention)
{
    task_record task;
    store_status status = store_task_get(db, id, &task);
    if (status == STORE_NOT_FOUND) return true;
    if (status != STORE_OK) return false;
    bool expired =
        task_state_is_terminal(task.state) && task.completed_at > 0 && task.completed_at + retention <= now;
    task_record_clear(&task);
    return expired;
}

int maintenance_expire_results(store *db, blob_store *blobs, int64_t now, int64_t link_ttl_seconds,
                               size_t limit)
{
    int64_t retention = maintenance_result_retention(link_ttl_seconds);
    if (retention <= 0 || limit == 0) return 0;
    result_candidates found = {.written_before = now - retention, .limit = limit};
    found.ids = calloc(limit, sizeof(*found.ids));
    if (found.ids == NULL) return -1;
    int listed = blob_list(blobs, "results", collect_old_result, &found);
    if (listed == BLOB_ERROR) {
        free(found.ids);
        return -1;
    }
    int removed = 0;
    for (size_t i = 0; i < found.count; i++) {
        if (!result_links_expired(db, found.ids[i], now, retention)) continue;
        char folder[16 + IDS_TASK_ID_SIZE];
        snprintf(folder, sizeof(folder), "results/%s", found.ids[i]);
        if (blob_remove_prefix(blobs, folder) != 0) {
            log_warn("cannot remove an expired result", "task=%s", found.ids[i]);
            continue;
        }
        log_info("result expired", "task=%s", found.ids[i]);
        removed++;
    }
    free(found.ids);
    return removed;
}

void maintenance_run_if_due(store *db, blob_store *blobs, int64_t now_ms, int64_t interval_ms,
                            int64_t link_ttl_seconds, int64_t *next_run_ms)
{
    if (now_ms < *next_run_ms) return;
    *next_run_ms = now_ms + (interval_ms > 0 ? interval_ms : MAINTENANCE_DEFAULT_INTERVAL_MS);
    for (int batch = 0; batch < EXPIRE_BATCHES_PER_RUN; batch++)
        if (maintenance_expire_uploads(db, blobs, now_ms / 1000, EXPIRE_BATCH) < EXPIRE_BATCH) break;
    if (maintenance_expire_results(db, blobs, now_ms / 1000, link_ttl_seconds, RESULT_EXPIRY_PER_RUN) < 0)
        log_warn("expired results could not be swept; trying again next run", "link_ttl_seconds=%lld",
                 (long long)link_ttl_seconds);
    /* idempotency keys past their 24 hours: admission ignores them already, this keeps the table small */
    /* scratch of processes killed without cleaning up, and our own stale scratch */
    if (blob_scratch_sweep(blobs, BLOB_SCRATCH_MAX_AGE_SECONDS) < 0)
        log_warn("the scratch area could not be swept; trying again next run", "errno=%d", errno);
    if (store_idempotency_expire(db, now_ms / 1000) != STORE_OK)
        log_warn("old idempotency keys could not be deleted; trying again next run", "ttl_seconds=%d",
                 STORE_IDEMPOTENCY_TTL_SECONDS);
}
