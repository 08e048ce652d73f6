/* models_ops.c — GET /v1/models (the catalog with each field's rules), GET /healthz, GET /metrics. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "catalog/catalog.h"

static char *models_body; /* rendered once: the catalog is constant */
static size_t models_body_length;
static pthread_once_t models_once = PTHREAD_ONCE_INIT;

static void render_models(void)
{
    json_t *models = catalog_models_json();
    models_body = models ? json_dumps(models, JSON_COMPACT) : NULL;
    models_body_length = models_body ? strlen(models_body) : 0;
    json_decref(models);
}

void api_models_list(http_exchange *exchange)
{
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    pthread_once(&models_once, render_models);
    if (models_body == NULL) {
        http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The catalog is unavailable.");
        return;
    }
    http_send_json(exchange->req, 200, models_body, models_body_length);
}

void api_ops_health(http_exchange *exchange)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    http_send_json(exchange->req, 200, ok, sizeof(ok) - 1);
}

typedef struct text_buffer {
    char *data;
    size_t length, capacity;
} text_buffer;

static void buffer_printf(text_buffer *buffer, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buffer_printf(text_buffer *buffer, const char *fmt, ...)
{
    for (;;) {
        size_t room = buffer->capacity - buffer->length;
        va_list ap;
        va_start(ap, fmt);
        int n = buffer->data ? vsnprintf(buffer->data + buffer->length, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            buffer->length += (size_t)n;
            return;
        }
        size_t capacity = buffer->capacity ? buffer->capacity * 2 : 4096;
        char *grown = realloc(buffer->data, capacity);
        if (grown == NULL) return;
        buffer->data = grown, buffer->capacity = capacity;
    }
}

static void print_request_count(void *ctx, const char *route, int status, uint64_t count)
{
    buffer_printf(ctx, "reelay_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", route, status,
                  (unsigned long long)count);
}

void api_ops_metrics(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    text_buffer buffer = {0};
    buffer_printf(&buffer, "# HELP reelay_http_requests_total HTTP requests by route and status.\n"
                           "# TYPE reelay_http_requests_total counter\n");
    if (thread->app->server) http_server_each_count(thread->app->server, print_request_count, &buffer);
    int64_t counts[TASK_STATE_COUNT];
    if (store_task_count_by_state(thread->db, counts) == STORE_OK) {
        buffer_printf(&buffer, "# HELP reelay_tasks Tasks by state.\n# TYPE reelay_tasks gauge\n");
        for (int state = 0; state < TASK_STATE_COUNT; state++)
            buffer_printf(&buffer, "reelay_tasks{state=\"%s\"} %lld\n", task_state_name((task_state)state),
                          (long long)counts[state]);
    }
    engine_stats stats;
    engine_get_stats(thread->app->engine, &stats);
    buffer_printf(&buffer,
                  "# HELP reelay_engine_queue_depth Tasks waiting for an engine worker.\n"
                  "# TYPE reelay_engine_queue_depth gauge\nreelay_engine_queue_depth %zu\n"
                  "# HELP reelay_engine_running Tasks held by an engine worker.\n"
                  "# TYPE reelay_engine_running gauge\nreelay_engine_running %zu\n"
                  "# HELP reelay_engine_deadlines Task deadlines armed.\n"
                  "# TYPE reelay_engine_deadlines gauge\nreelay_engine_deadlines %zu\n",
                  stats.queued, stats.running, stats.timers);
    h2o_req_t *req = exchange->req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
    h2o_send_inline(req, buffer.data ? buffer.data : "", buffer.length);
    free(buffer.data);
}
