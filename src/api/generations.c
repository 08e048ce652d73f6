/* generations.c — POST /v1/videos/generations: authenticate, parse, validate against the catalog,
 * check a channel serves the model, store the task (pending) and hand it to the engine. */
#include <stdio.h>
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
    json_t *params = NULL;
    int valid = catalog_validate(body, &model, &params, NULL, &err);
    json_decref(body);
    if (valid != 0) {
        http_send_error(req, &err);
        return;
    }
    if (!api_model_has_channel(thread, model->id)) {
        json_decref(params);
        http_add_header(req, "retry-after", "30");
        http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "no_available_channel", "model",
                               "No enabled channel serves this model right now; retry later.");
        return;
    }

    task_record task;
    memset(&task, 0, sizeof(task));
    int64_t now = clock_unix_seconds();
    ids_task_new(task.id, now);
    snprintf(task.key_id, sizeof(task.key_id), "%s", key.id);
    snprintf(task.model, sizeof(task.model), "%s", model->id);
    snprintf(task.user_group, sizeof(task.user_group), "%s", key.user_group);
    task.state = TASK_PENDING;
    task.created_at = task.updated_at = now;
    task.deadline_at = now + app->task_timeout_seconds;
    task.params_json = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    store_status stored = task.params_json ? store_task_insert(thread->db, &task) : STORE_ERROR;
    free(task.params_json);
    if (stored != STORE_OK) {
        /* Nothing was created, so a retry is safe: say so with a 503 rather than a bare 500. */
        http_add_header(req, "retry-after", "1");
        http_send_error_fields(req, 503, ERR_TYPE_SERVICE_UNAVAILABLE, "store_unavailable", NULL,
                               "The task could not be stored; nothing was created. Retry later.");
        return;
    }
    engine_submit(app->engine, task.id, task.deadline_at);
    log_info("task", "task=%s state=pending model=%s key=%s", task.id, task.model, task.key_id);

    char response[512];
    int length =
        snprintf(response, sizeof(response),
                 "{\"created\":%lld,\"id\":\"%s\",\"model\":\"%s\",\"object\":\"video.generation.task\","
                 "\"progress\":0,\"status\":\"pending\",\"task_info\":{\"can_cancel\":true,"
                 "\"estimated_time\":%d},\"type\":\"video\"}",
                 (long long)now, task.id, model->id, model->estimated_seconds);
    http_send_json(req, 200, response, (size_t)length);
}
