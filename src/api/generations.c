/* generations.c — POST /v1/videos/generations: authenticate, parse, validate against the catalog,
 * check a channel serves the model, store the task (pending) and hand it to the engine. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "catalog/catalog.h"
#include "util/clock.h"
#include "util/log.h"

static bool content_type_is_json(h2o_req_t *req)
{
    h2o_iovec_t type = http_request_header(req, "content-type");
    static const char json[] = "application/json";
    if (type.base == NULL || type.len < sizeof(json) - 1 ||
        strncasecmp(type.base, json, sizeof(json) - 1) != 0)
        return false;
    return type.len == sizeof(json) - 1 || type.base[sizeof(json) - 1] == ';' ||
           type.base[sizeof(json) - 1] == ' ';
}

/* Parses the body as one JSON value; on failure fills err (400 or 413). */
static json_t *parse_json_body(const api_app *app, h2o_req_t *req, reelay_error *err)
{
    if (!content_type_is_json(req)) {
        reelay_error_set(err, 400, ERR_TYPE_INVALID_REQUEST, "invalid_content_type", NULL,
                         "Content-Type must be application/json.");
        return NULL;
    }
    if (req->entity.len > app->max_json_bytes) {
        reelay_error_set(err, 413, ERR_TYPE_INVALID_REQUEST, "request_too_large", NULL,
                         "The request body is larger than %zu bytes.", app->max_json_bytes);
        return NULL;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        reelay_error_set(err, 400, ERR_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                         "The request body is empty.");
        return NULL;
    }
    json_error_t parse_error;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &parse_error);
    if (body == NULL)
        reelay_error_set(err, 400, ERR_TYPE_INVALID_REQUEST, "invalid_json", NULL,
                         "The request body is not valid JSON: %s (line %d, column %d).", parse_error.text,
                         parse_error.line, parse_error.column);
    return body;
}

struct pending_submission {
    task_record task;
    int estimated_seconds;
    h2o_req_t *req;                   /* NULL once the request is gone (its connection closed) */
    struct submission_link *link;     /* lives in the request's pool; NULL once answered */
};

/* Allocated in the request's memory pool: h2o disposes it with the request, which tells the pending
 * submission not to touch the request any more. */
typedef struct submission_link {
    pending_submission *submission;
} submission_link;

static void on_request_disposed(void *object)
{
    submission_link *link = object;
    if (link->submission) {
        link->submission->req = NULL;
        link->submission->link = NULL; /* this memory goes with the request */
    }
}

static void answer(pending_submission *submission, store_status stored)
{
    h2o_req_t *req = submission->req;
    if (submission->link) submission->link->submission = NULL; /* answering may dispose the request */
    if (req == NULL) return;
    if (stored != STORE_OK) {
        /* Nothing was created, so a retry is safe: say so with a 503 rather than a bare 500. */
        http_add_header(req, "retry-after", "1");
        http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "store_unavailable", NULL,
                               "The task could not be stored; nothing was created. Retry later.");
        return;
    }
    const task_record *task = &submission->task;
    char response[512];
    int length = snprintf(response, sizeof(response),
                          "{\"created\":%lld,\"id\":\"%s\",\"model\":\"%s\",\"object\":\"video.generation.task\","
                          "\"progress\":0,\"status\":\"pending\",\"task_info\":{\"can_cancel\":true,"
                          "\"estimated_time\":%d},\"type\":\"video\"}",
                          (long long)task->created_at, task->id, task->model, submission->estimated_seconds);
    http_send_json(req, 200, response, (size_t)length);
}

/* Runs at the end of the event-loop iteration: one transaction for every submission of the
 * iteration, then each is handed to the engine and answered. A 200 is only sent after the commit. */
static void flush_submissions(h2o_timeout_entry_t *entry)
{
    api_thread *thread = (api_thread *)((char *)entry - offsetof(api_thread, flush_timer));
    size_t count = thread->pending_count;
    thread->pending_count = 0;
    task_record *tasks = malloc(count * sizeof(*tasks));
    store_status stored = STORE_ERROR;
    if (tasks != NULL) {
        for (size_t i = 0; i < count; i++) tasks[i] = thread->pending[i]->task;
        stored = store_task_insert_batch(thread->db, tasks, count);
        free(tasks);
    }
    for (size_t i = 0; i < count; i++) {
        pending_submission *submission = thread->pending[i];
        if (stored == STORE_OK) {
            engine_submit(thread->app->engine, submission->task.id, submission->task.deadline_at);
            log_info("task", "task=%s state=pending model=%s key=%s", submission->task.id, submission->task.model,
                     submission->task.key_id);
        }
        answer(submission, stored);
        task_record_clear(&submission->task);
        free(submission);
    }
}

static void enqueue_submission(api_thread *thread, h2o_req_t *req, pending_submission *submission)
{
    submission->req = req;
    if (submission->task.params_json == NULL) {
        answer(submission, STORE_ERROR);
        task_record_clear(&submission->task);
        free(submission);
        return;
    }
    if (thread->pending_count == thread->pending_capacity) {
        size_t capacity = thread->pending_capacity ? thread->pending_capacity * 2 : 64;
        pending_submission **grown = realloc(thread->pending, capacity * sizeof(*grown));
        if (grown == NULL) {
            answer(submission, STORE_ERROR);
            task_record_clear(&submission->task);
            free(submission);
            return;
        }
        thread->pending = grown;
        thread->pending_capacity = capacity;
    }
    submission->link = h2o_mem_alloc_shared(&req->pool, sizeof(submission_link), on_request_disposed);
    submission->link->submission = submission;
    thread->pending[thread->pending_count++] = submission;
    if (!h2o_timeout_is_linked(&thread->flush_timer)) {
        thread->context = req->conn->ctx;
        thread->flush_timer.cb = flush_submissions;
        h2o_timeout_link(thread->context->loop, &thread->context->zero_timeout, &thread->flush_timer);
    }
}

void api_generations_create(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    const api_app *app = thread->app;
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;

    reelay_error err;
    json_t *body = parse_json_body(app, req, &err);
    if (body == NULL) {
        http_send_error(req, &err);
        return;
    }
    const catalog_model *model = NULL;
    json_t *params = NULL, *advanced = NULL, *unsupported = NULL;
    int valid = catalog_validate(body, &model, &params, &advanced, &err);
    json_decref(body);
    if (valid != 0) {
        http_send_error(req, &err);
        return;
    }
    routing_verdict route = api_route_check(thread, model->id, advanced, &unsupported);
    if (route == ROUTING_NO_CHANNEL) {
        json_decref(params), json_decref(advanced);
        char message[160];
        snprintf(message, sizeof(message), "No enabled channel serves %s right now; retry later.", model->id);
        http_add_header(req, "retry-after", "30");
        http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "no_available_channel", "model", message);
        return;
    }
    if (route == ROUTING_UNSUPPORTED) {
        char names[256] = "", message[400];
        size_t used = 0, i;
        json_t *name;
        json_array_foreach(unsupported, i, name) {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "", json_string_value(name));
            if (n < 0 || (size_t)n >= sizeof(names) - used) break;
            used += (size_t)n;
        }
        snprintf(message, sizeof(message),
                 "No available channel for %s supports the advanced option(s) %s; remove them and retry.",
                 model->id, names);
        json_decref(params), json_decref(advanced), json_decref(unsupported);
        http_send_error_fields(req, 422, ERR_TYPE_INVALID_REQUEST, "unsupported_advanced_options", names, message);
        return;
    }

    pending_submission *submission = calloc(1, sizeof(*submission));
    if (submission == NULL) {
        json_decref(params);
        http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "overloaded", NULL,
                               "The server is out of memory; nothing was created. Retry later.");
        return;
    }
    task_record *task = &submission->task;
    int64_t now = clock_unix_seconds();
    ids_task_new(task->id, now);
    snprintf(task->key_id, sizeof(task->key_id), "%s", key.id);
    snprintf(task->model, sizeof(task->model), "%s", model->id);
    snprintf(task->user_group, sizeof(task->user_group), "%s", key.user_group);
    task->state = TASK_PENDING;
    task->created_at = task->updated_at = now;
    task->deadline_at = now + app->task_timeout_seconds;
    task->params_json = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    /* the advanced options the client gave restrict routing: the engine reads them from here */
    if (json_array_size(advanced) > 0) {
        json_t *record = json_pack("{s:O}", "advanced", advanced);
        task->upstream_json = record ? json_dumps(record, JSON_COMPACT) : NULL;
        json_decref(record);
    }
    json_decref(advanced);
    submission->estimated_seconds = model->estimated_seconds;
    enqueue_submission(thread, req, submission);
}
