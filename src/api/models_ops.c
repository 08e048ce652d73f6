/* models_ops.c — GET /v1/models (the catalog with each field's rules and price), GET /v1/balance,
 * GET /healthz, GET /metrics. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "catalog/catalog.h"
#include "catalog/prices.h"

static json_t *catalog_view; /* built once: the catalog is constant */
static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;

static void build_catalog_view(void)
{
    catalog_view = catalog_models_json();
}

/* The catalog, each model with its price for the caller's group (catalog/prices.h). */
void api_models_list(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    pthread_once(&catalog_once, build_catalog_view);
    json_t *view = catalog_view ? json_deep_copy(catalog_view) : NULL;
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(view, "data"), i, entry)
    {
        const catalog_model *model = catalog_model_find(json_string_value(json_object_get(entry, "id")));
        if (model && thread->app->prices)
            json_object_set_new(entry, "pricing",
                                price_model_json(thread->app->prices, model, key.user_group));
    }
    char *body = view ? json_dumps(view, JSON_COMPACT) : NULL;
    json_decref(view);
    if (body == NULL) {
        http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The catalog is unavailable.");
        return;
    }
    http_send_json(exchange->req, 200, body, strlen(body));
    free(body);
}

/* GET /v1/balance: the key's credits. */
void api_balance_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    credit_balance balance;
    if (store_credits_balance(thread->db, key.id, &balance) != STORE_OK) {
        http_send_error_fields(exchange->req, 500, ERR_TYPE_SERVER, "internal_error", NULL,
                               "The balance could not be read; retry later.");
        return;
    }
    char body[256];
    int length = snprintf(body, sizeof(body),
                          "{\"object\":\"balance\",\"credits_available\":%lld,\"credits_reserved\":%lld,"
                          "\"user_group\":\"%s\"}",
                          (long long)balance.available, (long long)balance.reserved, key.user_group);
    http_send_json(exchange->req, 200, body, (size_t)length);
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
