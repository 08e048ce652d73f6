/* routes.c — the route table of reelay's API and the per-thread state behind it. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/admin_api.h"
#include "api/api_internal.h"
#include "api/task_watch.h"
#include "engine/cluster_signals.h"
#include "util/clock.h"

const http_route api_routes[] = {
    {"POST", "/v1/videos/generations", "generations.create", api_generations_create, NULL, false},
    {"POST", "/v1/videos/generations/quote", "generations.quote", api_generations_quote, NULL, false},
    {"GET", "/v1/videos/generations/{id}", "generations.get", api_tasks_get, NULL, false},
    {"POST", "/v1/videos", "videos.create", api_openai_videos_create, api_screen_key, true},
    {"GET", "/v1/videos", "videos.list", api_openai_videos_list, NULL, false},
    {"GET", "/v1/videos/{id}", "videos.get", api_openai_videos_get, NULL, false},
    {"DELETE", "/v1/videos/{id}", "videos.delete", api_openai_videos_delete, NULL, false},
    {"GET", "/v1/videos/{id}/content", "videos.content", api_openai_videos_content, NULL, false},
    {"POST", "/v1/videos/{id}/remix", "videos.remix", api_openai_videos_remix, NULL, false},
    /* OpenAI's newer edits, extensions and characters are not offered: answered as an unknown path is,
     * the key first, not as 405 */
    {"POST", "/v1/videos/{id}", "videos.unknown", api_unmatched, NULL, false},
    {"GET", "/v1/tasks", "tasks.list", api_tasks_list, NULL, false},
    {"GET", "/v1/tasks/events", "tasks.events_all", api_key_events, NULL, false},
    {"GET", "/v1/tasks/{id}", "tasks.get", api_tasks_get, NULL, false},
    {"GET", "/v1/tasks/{id}/events", "tasks.events", api_task_events, NULL, false},
    {"POST", "/v1/tasks/{id}/cancel", "tasks.cancel", api_tasks_cancel, NULL, false},
    {"GET", "/v1/tasks/{id}/callback", "tasks.callback", api_task_callback_get, NULL, false},
    {"GET", "/v1/tasks/{id}/request", "tasks.request", api_task_request_get, NULL, false},
    {"GET", "/v1/usage/daily", "usage.daily", api_usage_daily, NULL, false},
    {"POST", "/v1/upstream/{channel}/webhook", "upstream.webhook", api_upstream_webhook, NULL, false},
    {"GET", "/v1/models", "models.list", api_models_list, NULL, false},
    {"GET", "/v1/balance", "balance.get", api_balance_get, NULL, false},
    {"GET", "/v1/dashboard/billing/subscription", "billing.subscription_v1", api_billing_subscription, NULL,
     false},
    {"GET", "/dashboard/billing/subscription", "billing.subscription", api_billing_subscription, NULL, false},
    {"GET", "/v1/dashboard/billing/usage", "billing.usage_v1", api_billing_usage, NULL, false},
    {"GET", "/dashboard/billing/usage", "billing.usage", api_billing_usage, NULL, false},
    {"GET", "/api/pricing", "pricing.list", api_pricing_list, NULL, false},
    {"POST", "/v1/files/upload/stream", "uploads.stream", api_uploads_stream, api_screen_key, true},
    {"POST", "/v1/files/upload/base64", "uploads.base64", api_uploads_base64, api_screen_key, true},
    {"POST", "/v1/files/upload/url", "uploads.url", api_uploads_url, api_screen_key, true},
    /* the web console: its page for every path below /console (a single-page application), and its bundle */
    {"GET", "/console", "console.page", api_console_page, NULL, false},
    {"GET", "/console/", "console.index", api_console_page, NULL, false},
    {"GET", "/console/*", "console.files", api_console_page, NULL, false},
    {"GET", "/healthz", "healthz", api_ops_health, NULL, false},
    {"GET", "/metrics", "metrics", api_ops_metrics, NULL, false},
    /* the admin API (admin_api.h): keep these last, in one block */
    API_ADMIN_ROUTES,
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);

void api_unmatched(http_exchange *exchange)
{
    h2o_req_t *req = exchange->req;
    static const char versioned[] = "/v1/", files[] = "/v1/files/";
    bool under_v1 = req->path.len >= sizeof(versioned) - 1 &&
                    memcmp(req->path.base, versioned, sizeof(versioned) - 1) == 0; /* as routes match */
    /* file links carry a signature, not a key: a mangled one is simply not there */
    bool a_link = req->path.len >= sizeof(files) - 1 && memcmp(req->path.base, files, sizeof(files) - 1) == 0;
    key_record key;
    if (under_v1 && !a_link && !api_authenticate(exchange, &key)) return; /* 401 (or 429) answered */
    http_send_error_code(req, "unknown_path", NULL, "There is nothing at this path.");
}

static void keys_changed(void *context, const char *body)
{
    (void)body; /* one key or, after a lost connection, any: every cached key goes */
    api_app *app = context;
    atomic_fetch_add(&app->keys_generation, 1);
}

static void channels_changed(void *context, const char *body)
{
    (void)body;
    api_app *app = context;
    atomic_fetch_add(&app->channels_generation, 1);
}

void api_follow_signals(api_app *app)
{
    engine_on_signal(app->engine, CLUSTER_SIGNAL_KEY, keys_changed, app);
    engine_on_signal(app->engine, CLUSTER_SIGNAL_CHANNEL, channels_changed, app);
    if (app->task_board == NULL) app->task_board = task_watch_board_start(app->engine);
}

void api_send_json_value(h2o_req_t *req, int status, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (text == NULL) {
        http_send_error_code(req, "internal_error", NULL, "The answer could not be written.");
        return;
    }
    http_send_json(req, status, text, strlen(text));
    free(text);
}

void api_send_store_unavailable(h2o_req_t *req, const char *message)
{
    http_set_header(req, "retry-after", API_STORE_RETRY_AFTER);
    http_send_error_code(req, "store_unavailable", NULL, "%s", message);
}

void *api_thread_init(void *app, int thread_index)
{
    (void)thread_index;
    api_thread *thread = calloc(1, sizeof(*thread));
    if (thread == NULL) return NULL;
    thread->app = app;
    if (store_open_url(thread->app->database_url, thread->app->data_dir, &thread->db) != STORE_OK) {
        free(thread);
        return NULL;
    }
    /* the HTTP threads start after the engine: tasks this node admits are its own */
    if (thread->app->engine) store_set_lease_epoch(thread->db, engine_node_epoch(thread->app->engine));
    return thread;
}

void api_thread_stopping(void *thread_data)
{
    if (thread_data) api_generations_stopping(thread_data);
    if (thread_data) api_task_events_stopping(thread_data);
}

void api_thread_done(void *thread_data)
{
    api_thread *thread = thread_data;
    if (thread == NULL) return;
    store_close(thread->db);
    free(thread->pending); /* the loop has stopped: nothing is left pending */
    free(thread->channels);
    task_watch_thread_free(thread);
    free(thread);
}

/* Without a signal (SQLite's command line, a missed one) a channel change is seen within a second. */
enum { CHANNEL_CACHE_MS = 900 };

void api_channels_refresh(api_thread *thread)
{
    int64_t now = clock_monotonic_ms();
    uint64_t generation = atomic_load(&thread->app->channels_generation);
    if (thread->channels_loaded_ms == 0 || now - thread->channels_loaded_ms > CHANNEL_CACHE_MS ||
        generation != thread->channels_generation) {
        channel_record *fresh = NULL;
        size_t count = 0;
        routing_channel *channels = NULL;
        if (store_channel_list(thread->db, &fresh, &count) == STORE_OK &&
            (channels = calloc(count ? count : 1, sizeof(*channels))) != NULL) {
            for (size_t i = 0; i < count; i++) {
                channels[i].record = fresh[i];
                channels[i].provider = upstream_provider_find(fresh[i].provider);
                /* the sealed credential is the engine's business: keep no copy on HTTP threads */
                sodium_memzero(channels[i].record.credential_sealed,
                               sizeof(channels[i].record.credential_sealed));
            }
            free(thread->channels);
            thread->channels = channels;
            thread->channel_count = count;
            thread->channels_loaded_ms = now;
            thread->channels_generation = generation;
        }
        free(fresh);
    }
}

routing_verdict api_route_check(api_thread *thread, const char *model, const json_t *advanced,
                                json_t **unsupported)
{
    api_channels_refresh(thread);
    return routing_check(thread->channels, thread->channel_count, model, advanced, unsupported);
}
