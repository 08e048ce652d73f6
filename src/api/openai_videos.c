/* openai_videos.c — OpenAI's Videos API over the unified tasks (specs/client-compat.md):
 * GET /v1/videos/{id} and GET /v1/videos (after, limit, order). The objects are openai_videos_map.h's;
 * errors take the one shape every API answer has ({"error":{"message","type","param","code"}}), which is
 * OpenAI's. A video is a task: the same id, owner and state as GET /v1/tasks/{id} shows. */
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/openai_videos_map.h"

/* Sends the JSON value (stolen; NULL means it could not be built: 500) with `status`. */
static void send_json_value(h2o_req_t *req, int status, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL) {
        http_send_error_code(req, "internal_error", NULL, "The response could not be built.");
        return;
    }
    http_send_json(req, status, text, strlen(text));
    free(text);
}

static void send_video_not_found(h2o_req_t *req)
{
    http_send_error_code(req, "not_found", "video_id", "No video with this id exists.");
}

void api_openai_videos_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char id[IDS_TASK_ID_SIZE];
    if (http_path_param(exchange, 0, id, sizeof(id)) != 0 || !ids_task_is_valid(id)) {
        send_video_not_found(exchange->req);
        return;
    }
    task_record task;
    store_status status = store_task_get(thread->db, id, &task);
    if (status == STORE_ERROR) {
        api_send_store_unavailable(exchange->req, "The video could not be read; retry later.");
        return;
    }
    if (status == STORE_OK && strcmp(task.key_id, key.id) == 0)
        send_json_value(exchange->req, 200, openai_video_object(&task, thread->app->link_ttl_seconds));
    else
        send_video_not_found(exchange->req);
    if (status == STORE_OK) task_record_clear(&task);
}

/* Reads limit (1…100, default 20), after and order (asc/desc, default desc) into *query; false after
 * answering 422 naming the parameter. `after` is the caller's buffer the query points into. */
static bool read_list_query(h2o_req_t *req, task_list_query *query, char after[IDS_TASK_ID_SIZE])
{
    char limit_text[16], order[8];
    int has;
    if ((has = http_query_param(req, "limit", limit_text, sizeof(limit_text))) != 0) {
        char *end = NULL;
        long limit = has > 0 ? strtol(limit_text, &end, 10) : 0;
        if (has < 0 || end == limit_text || *end != '\0' || limit < 1 || limit > 100) {
            http_send_error_code(req, "out_of_range", "limit", "limit must be an integer from 1 to 100.");
            return false;
        }
        query->limit = (int)limit;
    }
    if ((has = http_query_param(req, "after", after, IDS_TASK_ID_SIZE)) != 0) {
        if (has < 0 || !ids_task_is_valid(after)) {
            http_send_error_code(req, "invalid_value", "after",
                                 "after must be the id of one of your videos.");
            return false;
        }
        query->after_id = after;
    }
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
    store_status status = store_task_list(thread->db, &query, &tasks, &count, &has_more);
    if (status == STORE_NOT_FOUND) {
        http_send_error_code(req, "invalid_value", "after", "after must be the id of one of your videos.");
        return;
    }
    if (status != STORE_OK) {
        api_send_store_unavailable(req, "The videos could not be read; retry later.");
        return;
    }
    send_json_value(req, 200, video_page(thread->app, tasks, count, has_more));
    task_records_free(tasks, count);
}
