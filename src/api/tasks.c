/* tasks.c — GET /v1/tasks/{id} (and its alias under /v1/videos/generations; ?wait=N is task_events.c's),
 * GET /v1/tasks (list), POST /v1/tasks/{id}/cancel, and the one task view they all show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "catalog/catalog.h"
#include "engine/task_view.h"
#include "util/clock.h"
#include "util/log.h"

/* The view itself lives in engine/task_view.c, shared with the callbacks' bodies. */
void api_task_write(const api_app *app, const task_record *task, json_text *out)
{
    task_view_links links = {
        .signer = &app->signer, .public_url = app->public_url, .link_ttl_seconds = app->link_ttl_seconds};
    task_view_write(&links, task, out);
}

void api_send_json_text(h2o_req_t *req, int status, json_text *text)
{
    if (text->failed || text->data == NULL)
        http_send_error_code(req, "internal_error", NULL, "The response could not be built.");
    else
        http_send_json(req, status, text->data, text->length);
    json_text_free(text);
}

static void send_task_not_found(h2o_req_t *req)
{
    http_send_error_code(req, "task_not_found", "task_id", "Task ID does not exist.");
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

/* ---- ?sync_upstream=true: a bounded wait for the provider's fresh answer, off the event loop's
 * critical path (h2o's 100 ms timer re-reads the task; nothing blocks). ---- */

enum { SYNC_WAIT_MS = 2000 };

typedef struct upstream_waiter {
    h2o_timeout_entry_t entry;
    h2o_req_t *req;
    api_thread *thread;
    char id[IDS_TASK_ID_SIZE];
    int64_t updated_at, progress, give_up_ms;
    task_state state;
} upstream_waiter;

/* Lives in the request's pool: when h2o disposes of the request, the timer must go too. */
static void waiter_disposed(void *object)
{
    upstream_waiter *waiter = object;
    if (h2o_timeout_is_linked(&waiter->entry)) h2o_timeout_unlink(&waiter->entry);
}

static void waiter_check(h2o_timeout_entry_t *entry)
{
    upstream_waiter *waiter = (upstream_waiter *)((char *)entry - offsetof(upstream_waiter, entry));
    task_record task;
    store_status status = store_task_get(waiter->thread->db, waiter->id, &task);
    if (status != STORE_OK) {
        if (status == STORE_ERROR)
            api_send_store_unavailable(waiter->req, "The task could not be read; retry later.");
        else
            http_send_error_code(waiter->req, "internal_error", NULL, "The task could not be read.");
        return;
    }
    bool changed = task.state != waiter->state || task.progress != waiter->progress ||
                   task.updated_at != waiter->updated_at;
    if (!changed && clock_monotonic_ms() < waiter->give_up_ms) {
        task_record_clear(&task);
        h2o_timeout_link(waiter->req->conn->ctx->loop, &waiter->req->conn->ctx->hundred_ms_timeout,
                         &waiter->entry);
        return;
    }
    json_text text = {0};
    api_task_write(waiter->thread->app, &task, &text);
    task_record_clear(&task);
    api_send_json_text(waiter->req, 200, &text); /* may dispose the request, and the waiter with it */
}

static void wait_for_upstream(http_exchange *exchange, const task_record *task)
{
    h2o_req_t *req = exchange->req;
    upstream_waiter *waiter = h2o_mem_alloc_shared(&req->pool, sizeof(*waiter), waiter_disposed);
    memset(waiter, 0, sizeof(*waiter));
    waiter->req = req;
    waiter->thread = exchange->thread_data;
    snprintf(waiter->id, sizeof(waiter->id), "%s", task->id);
    waiter->state = task->state;
    waiter->progress = task->progress;
    waiter->updated_at = task->updated_at;
    waiter->give_up_ms = clock_monotonic_ms() + SYNC_WAIT_MS;
    waiter->entry.cb = waiter_check;
    h2o_timeout_link(req->conn->ctx->loop, &req->conn->ctx->hundred_ms_timeout, &waiter->entry);
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
        http_send_error_code(exchange->req, "invalid_value", "sync_upstream",
                             "sync_upstream must be true or false.");
        return;
    }
    int wait_seconds = api_task_wait_seconds(exchange->req);
    if (wait_seconds < 0) return;
    char id[IDS_TASK_ID_SIZE];
    if (!read_task_id(exchange, id)) return;
    task_record task;
    store_status status = store_task_get(thread->db, id, &task);
    if (status == STORE_OK && strcmp(task.key_id, key.id) == 0) {
        bool sync = has_sync == 1 && (strcmp(sync_upstream, "true") == 0 || strcmp(sync_upstream, "1") == 0);
        /* A task on a provider channel: ask the provider now and answer with what it says, waiting a
         * bounded time. The sandbox has no upstream: its stored state is always current. */
        if (sync && task_view_on_provider(&task)) {
            engine_poll_now(thread->app->engine, id);
            wait_for_upstream(exchange, &task);
        } else if (wait_seconds > 0 && !task_state_is_terminal(task.state)) {
            api_task_wait(exchange, &task, wait_seconds); /* answers at the first change, or after N s */
        } else {
            json_text text = {0};
            api_task_write(thread->app, &task, &text);
            api_send_json_text(exchange->req, 200, &text);
        }
    } else if (status == STORE_ERROR) {
        api_send_store_unavailable(exchange->req, "The task could not be read; retry later.");
    } else {
        send_task_not_found(exchange->req);
    }
    if (status == STORE_OK) task_record_clear(&task);
}

bool api_read_list_paging(h2o_req_t *req, task_list_query *query, char after[IDS_TASK_ID_SIZE],
                          const char *noun)
{
    char limit_text[16];
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
            http_send_error_code(req, "invalid_value", "after", "after must be the id of one of your %s.",
                                 noun);
            return false;
        }
        query->after_id = after;
    }
    return true;
}

bool api_task_list_read(api_thread *thread, h2o_req_t *req, const task_list_query *query, const char *noun,
                        task_record **tasks, size_t *count, bool *has_more)
{
    store_status status = store_task_list(thread->db, query, tasks, count, has_more);
    if (status == STORE_NOT_FOUND)
        http_send_error_code(req, "invalid_value", "after", "after must be the id of one of your %s.", noun);
    if (status == STORE_NOT_FOUND || status == STORE_OK) return status == STORE_OK;
    char message[96];
    snprintf(message, sizeof(message), "The %s could not be read; retry later.", noun);
    api_send_store_unavailable(req, message);
    return false;
}

void api_tasks_list(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char after[IDS_TASK_ID_SIZE], status_text[16], model[64];
    task_list_query query = {.key_id = key.id, .limit = 20, .state = -1};
    if (!api_read_list_paging(req, &query, after, "tasks")) return;
    int has;
    if ((has = http_query_param(req, "status", status_text, sizeof(status_text))) != 0) {
        task_state state;
        if (has < 0 || !task_state_parse(status_text, &state) || state == TASK_SUBMITTING ||
            state == TASK_FINALIZING) {
            http_send_error_code(req, "invalid_value", "status",
                                 "status must be one of pending, processing, completed, failed, cancelled.");
            return;
        }
        query.state = (int)state;
    }
    if ((has = http_query_param(req, "model", model, sizeof(model))) != 0) {
        if (has < 0 || catalog_model_find(model) == NULL) {
            http_send_error_code(req, "model_not_found", "model",
                                 "model must be one of the models listed by GET /v1/models.");
            return;
        }
        query.model = model;
    }
    task_record *tasks = NULL;
    size_t count = 0;
    bool has_more = false;
    if (!api_task_list_read(thread, req, &query, "tasks", &tasks, &count, &has_more)) return;
    json_text text = {0};
    json_text_raw(&text, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < count; i++) {
        if (i) json_text_raw(&text, ",");
        api_task_write(thread->app, &tasks[i], &text);
    }
    json_text_raw(&text, has_more ? "],\"has_more\":true}" : "],\"has_more\":false}");
    task_records_free(tasks, count);
    api_send_json_text(req, 200, &text);
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
        http_send_error_code(
            exchange->req, "task_not_cancellable", "task_id",
            "The task has already finished; only pending or processing tasks can be cancelled.");
        return;
    }
    if (status != STORE_OK) {
        api_send_store_unavailable(exchange->req,
                                   "The task could not be cancelled (it may have been); retry later.");
        return;
    }
    engine_cancel(thread->app->engine, id);
    log_info("task", "task=%s state=cancelled key=%s", id, key.id);
    task_record task;
    if (store_task_get(thread->db, id, &task) != STORE_OK) {
        api_send_store_unavailable(exchange->req, "The task was cancelled but could not be read back.");
        return;
    }
    json_text text = {0};
    api_task_write(thread->app, &task, &text);
    api_send_json_text(exchange->req, 200, &text);
    task_record_clear(&task);
}
