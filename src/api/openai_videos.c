/* openai_videos.c — OpenAI's Videos API over the unified tasks (specs/client-compat.md):
 * GET /v1/videos/{id}, GET /v1/videos (after, limit, order) and GET /v1/videos/{id}/content (the video,
 * or its thumbnail or spritesheet, streamed from storage with Range). The objects are openai_videos_map.h's;
 * errors take the one shape every API answer has ({"error":{"message","type","param","code"}}), which is
 * OpenAI's. A video is a task: the same id, owner and state as GET /v1/tasks/{id} shows. */
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

#include "api/api_internal.h"
#include "api/openai_videos_map.h"
#include "engine/result_previews.h"

static void send_video_not_found(h2o_req_t *req)
{
    http_send_error_code(req, "not_found", "video_id", "No video with this id exists.");
}

bool api_read_own_video(http_exchange *exchange, key_record *key, task_record *task)
{
    api_thread *thread = exchange->thread_data;
    if (!api_authenticate(exchange, key)) return false;
    char id[IDS_TASK_ID_SIZE];
    if (http_path_param(exchange, 0, id, sizeof(id)) != 0 || !ids_task_is_valid(id)) {
        send_video_not_found(exchange->req);
        return false;
    }
    store_status status = store_task_get(thread->db, id, task);
    if (status == STORE_ERROR) {
        api_send_store_unavailable(exchange->req, "The video could not be read; retry later.");
        return false;
    }
    if (status == STORE_OK && strcmp(task->key_id, key->id) == 0) return true;
    if (status == STORE_OK) task_record_clear(task);
    send_video_not_found(exchange->req);
    return false;
}

void api_openai_videos_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    task_record task;
    if (!api_read_own_video(exchange, &key, &task)) return;
    /* OpenAI's poll helpers wait this long before asking again */
    if (!task_state_is_terminal(task.state)) http_add_header(exchange->req, "openai-poll-after-ms", "1000");
    api_send_json_value(exchange->req, 200, openai_video_object(&task, thread->app->link_ttl_seconds));
    task_record_clear(&task);
}

/* The stored object of a variant ("video", "thumbnail", "spritesheet") of a completed task's first
 * result, or NULL when it has none (a preview is absent when the result could not be decoded). Points
 * into *results. */
static const char *variant_object(const json_t *results, const char *variant)
{
    const json_t *first = json_array_get(results, 0);
    return json_string_value(json_object_get(first, strcmp(variant, "video") == 0 ? "object" : variant));
}

/* Answers the variant's bytes once the request is known to be the owner's and the video completed. */
static void send_variant(api_thread *thread, h2o_req_t *req, const task_record *task, const char *variant)
{
    if (task->completed_at + thread->app->link_ttl_seconds <= clock_unix_seconds()) {
        http_send_error_code(req, "link_expired", NULL,
                             "This video's content has expired (see the video's expires_at) and is no longer "
                             "kept.");
        return;
    }
    json_t *results = task->results_json ? json_loads(task->results_json, 0, NULL) : NULL;
    const char *name = variant_object(results, variant);
    if (name == NULL && result_previews_pending(json_array_get(results, 0))) {
        /* made after completion (engine/result_previews.h): not there yet, but coming */
        http_add_header(req, "retry-after", "1");
        http_send_error_code(
            req, "video_not_ready", NULL,
            "This video's previews are still being made: its %s can be downloaded in a moment.", variant);
    } else if (name == NULL) {
        http_send_error_code(req, "not_found", "variant",
                             "This video has no such content: its previews are absent when the result could "
                             "not be decoded.");
    } else {
        api_files_add_safety_headers(req, name);
        api_send_stored_object(thread, req, name);
    }
    json_decref(results);
}

void api_openai_videos_content(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    task_record task;
    if (!api_read_own_video(exchange, &key, &task)) return;
    char variant[16] = "video";
    int has = http_query_param(req, "variant", variant, sizeof(variant));
    if (has < 0 || (strcmp(variant, "video") != 0 && strcmp(variant, "thumbnail") != 0 &&
                    strcmp(variant, "spritesheet") != 0)) {
        http_send_error_code(req, "invalid_value", "variant",
                             "variant must be video, thumbnail or spritesheet.");
    } else if (task.state != TASK_COMPLETED) {
        http_send_error_code(req, "video_not_ready", NULL,
                             task_state_is_terminal(task.state)
                                 ? "This video failed or was cancelled: it has no content."
                                 : "This video is not completed yet: its content can be downloaded once its "
                                   "status is completed.");
    } else {
        send_variant(thread, req, &task, variant);
    }
    task_record_clear(&task);
}

/* Reads limit (1…100, default 20), after and order (asc/desc, default desc) into *query; false after
 * answering 422 naming the parameter. `after` is the caller's buffer the query points into. */
static bool read_list_query(h2o_req_t *req, task_list_query *query, char after[IDS_TASK_ID_SIZE])
{
    char order[8];
    if (!api_read_list_paging(req, query, after, "videos")) return false;
    int has;
    if ((has = http_query_param(req, "order", order, sizeof(order))) != 0) {
        if (has < 0 || (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)) {
            http_send_error_code(req, "invalid_value", "order", "order must be asc or desc.");
            return false;
        }
        query->oldest_first = strcmp(order, "asc") == 0;
    }
    return true;
}

/* {object:"list", data, first_id, last_id, has_more} of one page; NULL when out of memory. */
static json_t *video_page(const api_app *app, const task_record *tasks, size_t count, bool has_more)
{
    json_t *data = json_array();
    for (size_t i = 0; data != NULL && i < count; i++) {
        json_t *video = openai_video_object(&tasks[i], app->link_ttl_seconds);
        if (video == NULL || json_array_append_new(data, video) != 0) {
            json_decref(data);
            data = NULL;
        }
    }
    if (data == NULL) return NULL;
    return json_pack("{s:s, s:o, s:o, s:o, s:b}", "object", "list", "data", data, "first_id",
                     count ? json_string(tasks[0].id) : json_null(), "last_id",
                     count ? json_string(tasks[count - 1].id) : json_null(), "has_more", has_more);
}

void api_openai_videos_list(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char after[IDS_TASK_ID_SIZE];
    task_list_query query = {.key_id = key.id, .limit = 20, .state = -1};
    if (!read_list_query(req, &query, after)) return;
    task_record *tasks = NULL;
    size_t count = 0;
    bool has_more = false;
    if (!api_task_list_read(thread, req, &query, "videos", &tasks, &count, &has_more)) return;
    api_send_json_value(req, 200, video_page(thread->app, tasks, count, has_more));
    task_records_free(tasks, count);
}
