/* task_completion.c — a task completed with a video file (see task_completion.h). */
#include "engine/task_completion.h"

#include <assert.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/prices.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

static task_completion_result refuse(const char *code, const char *message, char *error_code,
                                     size_t code_size, char *error_message, size_t message_size)
{
    snprintf(error_code, code_size, "%s", code);
    snprintf(error_message, message_size, "%s", message);
    return TASK_COMPLETION_FAILED;
}

/* What the task is charged: the result's real length at the rate fixed at admission; -1 (the whole
 * reservation) when the terms cannot be read. */
static int64_t settled_charge(store *db, const char *task_id, const char *billing_json, double seconds)
{
    if (billing_json != NULL) return price_settle(billing_json, seconds);
    task_record task;
    if (store_task_get(db, task_id, &task) != STORE_OK) return -1;
    int64_t charge = price_settle(task.billing_json, seconds);
    task_record_clear(&task);
    return charge;
}

/* The compare-and-set moves: from (through finalizing) to completed. */
static store_status complete_in_store(store *db, const task_completion *what, const char *results,
                                      int64_t charge)
{
    int64_t now = clock_unix_seconds();
    if (what->from == TASK_PROCESSING) {
        store_status moved =
            store_task_transition(db, what->task_id, TASK_PROCESSING, TASK_FINALIZING, NULL, now);
        if (moved != STORE_OK) return moved;
    }
    return store_task_complete(db, what->task_id, TASK_FINALIZING, results, charge, now);
}

/* complete_in_store, again while the store errs (the database away: the next call reconnects), for
 * up to COMPLETION_PATIENCE_MS: a finished render is not thrown away for an outage of a few seconds.
 * Each retry starts from the task's state as stored, since a write whose answer was lost (a COMMIT cut
 * off) may have been applied: a task found completed was completed by it. */
enum { COMPLETION_PATIENCE_MS = 60000, COMPLETION_RETRY_MAX_MS = 2000 };
static store_status complete_retrying(store *db, const task_completion *what, const char *results,
                                      int64_t charge)
{
    store_status status = complete_in_store(db, what, results, charge);
    int64_t give_up_ms = clock_monotonic_ms() + COMPLETION_PATIENCE_MS;
    int64_t delay_ms = 100;
    while (status == STORE_ERROR && clock_monotonic_ms() < give_up_ms) {
        nanosleep(&(struct timespec){.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L},
                  NULL);
        delay_ms = delay_ms * 2 > COMPLETION_RETRY_MAX_MS ? COMPLETION_RETRY_MAX_MS : delay_ms * 2;
        task_record task;
        store_status read = store_task_get(db, what->task_id, &task);
        if (read != STORE_OK) {
            if (read == STORE_NOT_FOUND) return STORE_NOT_FOUND;
            continue;
        }
        task_state state = task.state;
        task_record_clear(&task);
        if (state == TASK_COMPLETED) return STORE_OK;
        if (state != TASK_PROCESSING && state != TASK_FINALIZING) return STORE_CONFLICT;
        task_completion again = *what;
        again.from = state;
        status = complete_in_store(db, &again, results, charge);
    }
    if (status == STORE_ERROR) log_warn("the store stayed unavailable", "task=%s", what->task_id);
    return status;
}

task_completion_result task_complete_with_file(store *db, blob_store *blobs, const task_completion *what,
                                               char *error_code, size_t code_size, char *error_message,
                                               size_t message_size)
{
    assert(what->from == TASK_PROCESSING || what->from == TASK_FINALIZING);
    media_info probed;
    const media_info *info = what->info;
    if (info == NULL) {
        char err[512] = "";
        if (media_probe(what->path, &probed, err, sizeof(err)) != 0 || !probed.has_video)
            return refuse("generation_failed", "The provider's result is not a playable video.", error_code,
                          code_size, error_message, message_size);
        info = &probed;
    }
    char name[128];
    snprintf(name, sizeof(name), "results/%s/output.mp4", what->task_id);
    double duration = info->duration > 0 ? info->duration : what->stated_duration;
    json_t *results = json_pack("[{s:s, s:s, s:f, s:i, s:i}]", "object", name, "content_type", "video/mp4",
                                "duration", duration, "width", info->width, "height", info->height);
    json_t *first = json_array_get(results, 0);
    if (first != NULL && what->previews == NULL) /* before completion: made of the file, stored, named */
        result_previews_add(blobs, what->task_id, what->path, info, duration, first);
    else if (first != NULL &&
             json_object_set_new(first, RESULT_PREVIEWS_MEMBER, json_string(RESULT_PREVIEWS_PENDING)) != 0)
        json_decref(results), results = NULL;
    if (blob_put_file(blobs, name, what->path) != 0) {
        json_decref(results);
        char prefix[IDS_TASK_ID_SIZE + 16];
        snprintf(prefix, sizeof(prefix), "results/%s", what->task_id);
        blob_remove_prefix(blobs, prefix); /* the previews stored, if any */
        return refuse("internal_error", "The result could not be stored.", error_code, code_size,
                      error_message, message_size);
    }
    char *text = results ? json_dumps(results, JSON_COMPACT) : NULL;
    json_decref(results);
    store_status status = STORE_ERROR;
    if (text != NULL) {
        int64_t charge = settled_charge(db, what->task_id, what->billing_json, info->duration);
        status = complete_retrying(db, what, text, charge);
        free(text);
    }
    if (status == STORE_OK) {
        if (what->previews != NULL && !result_previews_push(what->previews, what->task_id, info, duration)) {
            log_warn("no previews for a result: they could not be queued", "task=%s", what->task_id);
            result_previews_give_up(db, what->task_id);
        }
        return TASK_COMPLETION_DONE;
    }
    if (status != STORE_CONFLICT && status != STORE_NOT_FOUND)
        log_error("a result could not be recorded; the task stays unfinished", "task=%s", what->task_id);
    /* finished meanwhile (or not recorded): the result is not wanted */
    char prefix[IDS_TASK_ID_SIZE + 16];
    snprintf(prefix, sizeof(prefix), "results/%s", what->task_id);
    if (blob_remove_prefix(blobs, prefix) != 0)
        log_warn("an unwanted result could not be removed", "task=%s", what->task_id);
    return TASK_COMPLETION_GONE;
}
