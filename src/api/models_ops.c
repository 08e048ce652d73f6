/* models_ops.c — GET /v1/models (the catalog with each field's rules and price), GET /v1/balance,
 * GET /healthz, GET /metrics. */
#include <pthread.h>
#include <stdatomic.h>
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

/* The answer of GET /v1/models depends only on the caller's user group (the prices shown are the
 * group's), and prices are fixed for the life of the process: each group's body is built once and
 * kept (entries are never changed or freed, so a body found under the lock may be read after it). */
enum { CATALOG_CACHED_GROUPS = 32 };
static struct {
    char group[sizeof(((key_record *)0)->user_group)];
    char *body;
    size_t length;
} catalog_bodies[CATALOG_CACHED_GROUPS];
static size_t catalog_body_count;
static _Atomic uint64_t catalog_builds;
static pthread_mutex_t catalog_lock = PTHREAD_MUTEX_INITIALIZER;

static char *catalog_body_build(const api_app *app, const char *group)
{
    pthread_once(&catalog_once, build_catalog_view);
    json_t *view = catalog_view ? json_deep_copy(catalog_view) : NULL;
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(view, "data"), i, entry)
    {
        const catalog_model *model = catalog_model_find(json_string_value(json_object_get(entry, "id")));
        if (model && app->prices)
            json_object_set_new(entry, "pricing", price_model_json(app->prices, model, group));
    }
    char *body = view ? json_dumps(view, JSON_COMPACT | JSON_REAL_PRECISION(15))
                      : NULL; /* 1.6, not 1.6000000000000001 */
    json_decref(view);
    atomic_fetch_add_explicit(&catalog_builds, 1, memory_order_relaxed);
    return body;
}

/* The catalog, each model with its price for the caller's group (catalog/prices.h). */
void api_models_list(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    h2o_req_t *req = exchange->req;
    h2o_iovec_t body = {NULL, 0};
    pthread_mutex_lock(&catalog_lock);
    for (size_t i = 0; i < catalog_body_count && body.base == NULL; i++)
        if (strcmp(catalog_bodies[i].group, key.user_group) == 0)
            body = h2o_iovec_init(catalog_bodies[i].body, catalog_bodies[i].length); /* kept for good */
    pthread_mutex_unlock(&catalog_lock);
    if (body.base == NULL) {
        char *built = catalog_body_build(thread->app, key.user_group);
        if (built != NULL) {
            body = h2o_strdup(&req->pool, built, strlen(built));
            pthread_mutex_lock(&catalog_lock);
            bool kept = false;
            for (size_t i = 0; i < catalog_body_count; i++)
                kept = kept || strcmp(catalog_bodies[i].group, key.user_group) == 0;
            if (!kept && catalog_body_count < CATALOG_CACHED_GROUPS) { /* past that, built per request */
                snprintf(catalog_bodies[catalog_body_count].group, sizeof(catalog_bodies[0].group), "%s",
                         key.user_group);
                catalog_bodies[catalog_body_count].body = built;
                catalog_bodies[catalog_body_count].length = body.len;
                catalog_body_count++;
                built = NULL;
            }
            pthread_mutex_unlock(&catalog_lock);
            free(built);
        }
    }
    if (body.base == NULL) {
        http_send_error_code(req, "internal_error", NULL, "The catalog is unavailable.");
        return;
    }
    http_send_json(req, 200, body.base, body.len);
}

/* GET /v1/balance: the key's credits. */
void api_balance_get(http_exchange *exchange)
{
    api_thread *thread = exchange->thread_data;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    credit_balance balance;
    if (store_credits_balance(thread->db, key.id, &balance) != STORE_OK) {
        api_send_store_unavailable(exchange->req, "The balance could not be read; retry later.");
        return;
    }
    char body[256];
    int length = snprintf(body, sizeof(body),
                          "{\"object\":\"balance\",\"credits_available\":%lld,\"credits_reserved\":%lld,"
                          "\"user_group\":\"%s\"}",
                          (long long)balance.available, (long long)balance.reserved, key.user_group);
    http_send_json(exchange->req, 200, body, (size_t)length);
}

/* 200 {"status":"ok"} while the database answers (one primary-key read of a task that never exists),
 * else 503 {"status":"unavailable","database":"unreachable"} with Retry-After, so that a load balancer
 * sends nothing to a node cut off from its database; it comes back by itself with the database. */
void api_ops_health(http_exchange *exchange)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    static const char unreachable[] = "{\"status\":\"unavailable\",\"database\":\"unreachable\"}";
    api_thread *thread = exchange->thread_data;
    task_record probe;
    store_status status = store_task_get(thread->db, "task-healthz-probe", &probe);
    if (status == STORE_OK) task_record_clear(&probe);
    if (status == STORE_ERROR) {
        http_set_header(exchange->req, "retry-after", API_STORE_RETRY_AFTER);
        http_send_json(exchange->req, 503, unreachable, sizeof(unreachable) - 1);
        return;
    }
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
    buffer_printf(
        &buffer,
        "# HELP reelay_catalog_builds_total Times the GET /v1/models answer was built (once per group).\n"
        "# TYPE reelay_catalog_builds_total counter\nreelay_catalog_builds_total %llu\n",
        (unsigned long long)atomic_load_explicit(&catalog_builds, memory_order_relaxed));
    h2o_req_t *req = exchange->req;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
    h2o_send_inline(req, buffer.data ? buffer.data : "", buffer.length);
    free(buffer.data);
}
