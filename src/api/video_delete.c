/* video_delete.c — DELETE /v1/videos/{id}, OpenAI's "delete video" (specs/client-compat.md): a finished
 * task (completed, failed or cancelled) of the caller's key is deleted for good — its row, idempotency
 * keys and callback in one transaction (store_task_delete; the credit ledger stays) — then its stored
 * result objects are removed, and the answer is {id, object:"video.deleted", deleted:true}. A video still
 * queued or in progress is 409 task_not_finished (cancel it first). It is the same task underneath: from
 * then on GET /v1/videos/{id} and GET /v1/tasks/{id} are 404, and its signed links find nothing.
 *
 * The objects are the ones the task's results name (each result's video, thumbnail and spritesheet),
 * and only those inside the task's own folder results/<id>/: a delete never touches another task's
 * files. On local storage each removal is an unlink, run here on the loop; on S3 each is a request, run
 * on the offload pool while the answer waits. A removal that fails is logged and does not undo the
 * delete: the results sweep (engine/maintenance.c) removes the folder once its links have expired. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/log.h"

api_object_name *api_video_result_objects(const char *task_id, const char *results_json, size_t *count)
{
    *count = 0;
    char folder[IDS_TASK_ID_SIZE + 16];
    int folder_length = snprintf(folder, sizeof(folder), "results/%s/", task_id);
    json_error_t error;
    json_t *results = results_json ? json_loads(results_json, 0, &error) : NULL;
    size_t capacity = json_is_array(results) ? 3 * json_array_size(results) : 0;
    api_object_name *names = capacity ? calloc(capacity, sizeof(*names)) : NULL;
    bool folder_fits = folder_length > 0 && (size_t)folder_length < sizeof(folder);
    for (size_t i = 0; names != NULL && folder_fits && i < json_array_size(results); i++) {
        static const char *const members[] = {"object", "thumbnail", "spritesheet"};
        for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++) {
            const char *name = json_string_value(json_object_get(json_array_get(results, i), members[m]));
            size_t length = name ? strlen(name) : 0;
            if (name == NULL || strncmp(name, folder, (size_t)folder_length) != 0 ||
                length >= sizeof(names[0].text) || !blob_name_is_valid(name))
                continue;
            memcpy(names[*count].text, name, length + 1);
            (*count)++;
        }
    }
    json_decref(results);
    if (*count == 0) {
        free(names);
        return NULL;
    }
    return names;
}

/* The objects of one deleted video, between the delete and the answer. */
typedef struct video_delete_job {
    blob_store *blobs;
    char id[IDS_TASK_ID_SIZE];
    api_object_name *names; /* malloc'd; NULL when there is nothing to remove */
    size_t count;
    bool removals_ran;
} video_delete_job;

static void send_video_not_found(h2o_req_t *req)
{
    http_send_error_code(req, "not_found", "video_id", "No video with this id exists.");
}

/* 200 {"id","object":"video.deleted","deleted":true}. */
static void send_video_deleted(h2o_req_t *req, const char *id)
{
    json_text text = {0};
    json_text_raw(&text, "{");
    json_text_key(&text, "id", true);
    json_text_string(&text, id);
    json_text_raw(&text, ",\"object\":\"video.deleted\",\"deleted\":true}");
    api_send_json_text(req, 200, &text);
}

static void removals_work(void *ctx)
{
    video_delete_job *job = ctx;
    job->removals_ran = true;
    for (size_t i = 0; i < job->count; i++)
        if (blob_remove(job->blobs, job->names[i].text) != BLOB_OK)
            log_warn("a deleted video's object could not be removed; the results sweep will",
                     "task=%s object=%s", job->id, job->names[i].text);
}

static void removals_done(h2o_req_t *req, void *ctx)
{
    video_delete_job *job = ctx;
    /* Not run on the pool (the server is stopping, or the job could not be queued): local unlinks are
     * cheap here, but a bucket is the network, which this loop thread never waits on — its objects are
     * left to the results sweep. */
    if (!job->removals_ran && blob_store_is_local(job->blobs))
        removals_work(job);
    else if (!job->removals_ran)
        log_warn(
            "a deleted video's objects are left to the results sweep (the offload pool did not take them)",
            "task=%s", job->id);
    if (req) send_video_deleted(req, job->id);
    free(job->names);
    free(job);
}

/* The video is deleted: its objects go (on the pool for S3), then the answer. */
static void remove_objects_then_answer(api_thread *thread, h2o_req_t *req, const task_record *deleted)
{
    video_delete_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        log_warn("a deleted video's objects are left to the results sweep (out of memory)", "task=%s",
                 deleted->id);
        send_video_deleted(req, deleted->id);
        return;
    }
    job->blobs = thread->app->blobs;
    memcpy(job->id, deleted->id, sizeof(job->id));
    job->names = api_video_result_objects(deleted->id, deleted->results_json, &job->count);
    if (job->count > 0 && !blob_store_is_local(job->blobs) &&
        http_offload_continue(req, removals_work, removals_done, job) == HTTP_OFFLOAD_QUEUED)
        return;
    removals_done(req, job); /* local unlinks here; a bucket's, when the pool could not take them, wait */
}

void api_openai_videos_delete(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char id[IDS_TASK_ID_SIZE];
    if (http_path_param(exchange, 0, id, sizeof(id)) != 0 || !ids_task_is_valid(id)) {
        send_video_not_found(req);
        return;
    }
    task_record deleted;
    store_status status = store_task_delete(thread->db, id, key.id, &deleted);
    if (status == STORE_NOT_FOUND) {
        send_video_not_found(req);
        return;
    }
    if (status == STORE_CONFLICT) {
        http_send_error_code(req, "task_not_finished", "video_id",
                             "The video is still queued or in progress; cancel it with POST "
                             "/v1/tasks/%s/cancel, then delete it.",
                             id);
        return;
    }
    if (status != STORE_OK) {
        api_send_store_unavailable(req, "The video could not be deleted; retry later.");
        return;
    }
    log_info("video deleted", "task=%s key=%s", id, key.id);
    remove_objects_then_answer(thread, req, &deleted);
    task_record_clear(&deleted);
}
