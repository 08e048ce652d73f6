/* tasks.c — GET /v1/tasks/{id} (and its alias under /v1/videos/generations), GET /v1/tasks (list),
 * POST /v1/tasks/{id}/cancel, and the one task view they all show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "catalog/catalog.h"
#include "util/clock.h"
#include "util/log.h"

/* The public status: internal steps collapse onto the documented five values. */
static const char *public_status(task_state state)
{
    switch (state) {
    case TASK_PENDING:
    case TASK_SUBMITTING:
        return "pending";
    case TASK_PROCESSING:
    case TASK_FINALIZING:
        return "processing";
    default:
        return task_state_name(state);
    }
}

/* Stored results name objects in our storage; the view turns each into a signed link. */
static json_t *results_view(const api_app *app, const task_record *task)
{
    json_error_t error;
    json_t *stored = task->results_json ? json_loads(task->results_json, 0, &error) : NULL;
    json_t *view = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(stored, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "object"));
        char url[2048];
        if (name == NULL || link_sign_url(&app->signer, app->public_url, name,
                                          task->completed_at + app->link_ttl_seconds, url, sizeof(url)) != 0)
            continue;
        json_t *entry = json_deep_copy(item);
        json_object_del(entry, "object");
        json_object_set_new(entry, "url", json_string(url));
        json_array_append_new(view, entry);
    }
    json_decref(stored);
    return view;
}

json_t *api_task_view(const api_app *app, const task_record *task)
{
    bool finished = task_state_is_terminal(task->state);
    const catalog_model *model = catalog_model_find(task->model);
    int64_t estimate = 0;
    if (!finished && model != NULL) {
        estimate = model->estimated_seconds - (clock_unix_seconds() - task->created_at);
        if (estimate < 0) estimate = 0;
    }
    json_t *error = json_null();
    if (task->state == TASK_FAILED || task->state == TASK_CANCELLED)
        error = json_pack("{s:s, s:s, s:s}", "code", task->error_code, "message",
                          task->error_message ? task->error_message : "", "type", "task_error");
    json_t *results = task->state == TASK_COMPLETED ? results_view(app, task) : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:{s:b, s:I}, s:o, s:o, s:{s:f, s:s}}", "id",
                     task->id, "object", "video.generation.task", "type", "video", "model", task->model,
                     "status", public_status(task->state), "progress", task->progress, "created",
                     (json_int_t)task->created_at, "task_info", "can_cancel", !finished, "estimated_time",
                     (json_int_t)estimate, "results", results, "error", error, "usage", "credits_reserved",
                     task->credits_reserved, "user_group", task->user_group);
}

void api_send_json_value(h2o_req_t *req, int status, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL) {
        http_send_error_fields(req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The response could not be built.");
        return;
    }
    http_send_json(req, status, text, strlen(text));
    free(text);
}

static void send_task_not_found(h2o_req_t *req)
{
    http_send_error_fields(req, 404, ERR_TYPE_NOT_FOUND, "task_not_found", "task_id",
                           "Task ID does not exist.");
}

/* Reads path parameter 0 as a task id; sends 404 and returns false for anything that cannot be one. */
static bool read_task_id(http_exchange *exchange, char id[IDS_TASK_ID_SIZE])
{
    if (http_path_param(exchange, 0, id, IDS_TASK_ID_SIZE) != 0 || !ids_task_is_valid(id)) {
        send_task_not_found(exchange->req);
        return false;
    }
    return true;
}

void api_tasks_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char sync_upstream[8];
    int has_sync = http_query_param(exchange->req, "sync_upstream", sync_upstream, sizeof(sync_upstream));
    if (has_sync < 0 ||
        (has_sync == 1 && strcmp(sync_upstream, "true") != 0 && strcmp(sync_upstream, "false") != 0 &&
         strcmp(sync_upstream, "1") != 0 && strcmp(sync_upstream, "0") != 0)) {
        http_send_error_fields(exchange->req, 422, ERR_TYPE_INVALID_REQUEST, "invalid_value", "sync_upstream",
                               "sync_upstream must be true or false.");
        return;
    }
    /* The sandbox has no upstream: its stored state is always current, so sync_upstream changes nothing. */
    char id[IDS_TASK_ID_SIZE];
    if (!read_task_id(exchange, id)) return;
    task_record task;
    store_status status = store_task_get(thread->db, id, &task);
    if (status == STORE_OK && strcmp(task.key_id, key.id) == 0) {
        api_send_json_value(exchange->req, 200, api_task_view(thread->app, &task));
    } else if (status == STORE_ERROR) {
        http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The task could not be read.");
    } else {
        send_task_not_found(exchange->req);
    }
    if (status == STORE_OK) task_record_clear(&task);
}

void api_tasks_list(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char limit_text[16], after[IDS_TASK_ID_SIZE], status_text[16], model[64];
    task_list_query query = {.key_id = key.id, .limit = 20, .state = -1};
    int has;
    if ((has = http_query_param(req, "limit", limit_text, sizeof(limit_text))) != 0) {
        char *end = NULL;
        long limit = has > 0 ? strtol(limit_text, &end, 10) : 0;
        if (has < 0 || end == limit_text || *end != '\0' || limit < 1 || limit > 100) {
            http_send_error_fields(req, 422, ERR_TYPE_INVALID_REQUEST, "out_of_range", "limit",
                                   "limit must be an integer from 1 to 100.");
            return;
        }
        query.limit = (int)limit;
    }
    if ((has = http_query_param(req, "after", after, sizeof(after))) != 0) {
        if (has < 0 || !ids_task_is_valid(after)) {
            http_send_error_fields(req, 422, ERR_TYPE_INVALID_REQUEST, "invalid_value", "after",
                                   "after must be the id of one of your tasks.");
            return;
        }
        query.after_id = after;
    }
    if ((has = http_query_param(req, "status", status_text, sizeof(status_text))) != 0) {
        task_state state;
        if (has < 0 || !task_state_parse(status_text, &state) || state == TASK_SUBMITTING ||
            state == TASK_FINALIZING) {
            http_send_error_fields(
                req, 422, ERR_TYPE_INVALID_REQUEST, "invalid_value", "status",
                "status must be one of pending, processing, completed, failed, cancelled.");
            return;
        }
        query.state = (int)state;
    }
    if ((has = http_query_param(req, "model", model, sizeof(model))) != 0) {
        if (has < 0 || catalog_model_find(model) == NULL) {
            http_send_error_fields(req, 422, ERR_TYPE_INVALID_REQUEST, "model_not_found", "model",
                                   "model must be one of the models listed by GET /v1/models.");
            return;
        }
        query.model = model;
    }
    task_record *tasks = NULL;
    size_t count = 0;
    bool has_more = false;
    store_status status = store_task_list(thread->db, &query, &tasks, &count, &has_more);
    if (status == STORE_NOT_FOUND) {
        http_send_error_fields(req, 422, ERR_TYPE_INVALID_REQUEST, "invalid_value", "after",
                               "after must be the id of one of your tasks.");
        return;
    }
    if (status != STORE_OK) {
        http_send_error_fields(req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The tasks could not be read.");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(data, api_task_view(thread->app, &tasks[i]));
    task_records_free(tasks, count);
    api_send_json_value(req, 200,
                        json_pack("{s:s, s:o, s:b}", "object", "list", "data", data, "has_more", has_more));
}

void api_tasks_cancel(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char id[IDS_TASK_ID_SIZE];
    if (!read_task_id(exchange, id)) return;
    store_status status = store_task_cancel(thread->db, id, key.id, clock_unix_seconds());
    if (status == STORE_NOT_FOUND) {
        send_task_not_found(exchange->req);
        return;
    }
    if (status == STORE_CONFLICT) {
        http_send_error_fields(
            exchange->req, 409, ERR_TYPE_CONFLICT, "task_not_cancellable", "task_id",
            "The task has already finished; only pending or processing tasks can be cancelled.");
        return;
    }
    if (status != STORE_OK) {
        http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The task could not be cancelled.");
        return;
    }
    engine_cancel(thread->app->engine, id);
    log_info("task", "task=%s state=cancelled key=%s", id, key.id);
    task_record task;
    if (store_task_get(thread->db, id, &task) != STORE_OK) {
        http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The task could not be read.");
        return;
    }
    api_send_json_value(exchange->req, 200, api_task_view(thread->app, &task));
    task_record_clear(&task);
}
