/* upstream_runner.c — tasks on provider channels: routing, submit, poll, result, download, failover
 * (see upstream_runner.h). One thread, one curl multi handle, one timer heap. */
#include "engine/upstream_runner.h"

#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog/catalog.h"
#include "catalog/prices.h"
#include "engine/routing.h"
#include "engine/task_view.h"
#include "engine/webhook_keys.h"
#include "media/media.h"
#include "net/curl_setup.h"
#include "store/store.h"
#include "upstream/upstream.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/min_heap.h"
#include "util/secret_box.h"
#include "util/str_map.h"
#include "util/vector.h"

enum { MAX_TRIED = 8, BODY_LIMIT = 1 << 20, CHANNEL_RELOAD_MS = 2000 };

typedef enum { STEP_ROUTE, STEP_SUBMIT, STEP_LOOKUP, STEP_POLL, STEP_RESULT, STEP_CANCEL } step;

/* A provider channel as the runner holds it: routing state plus its opened credential. */
typedef struct channel_slot {
    char credential[SECRET_BOX_MAX_PLAIN + 1];
    upstream_auth_cache auth;
} channel_slot;

/* One task followed by the runner. */
typedef struct flight {
    char task_id[IDS_TASK_ID_SIZE];
    char model[48];
    json_t *params;
    json_t *advanced;          /* option names the client gave explicitly */
    char channel[64];          /* "" while unrouted */
    bool holds_slot;           /* counted in that channel's in_flight */
    char tried[MAX_TRIED][64]; /* channels that refused it */
    int tried_count;
    char last_error_code[48], last_error_message[512];
    upstream_job job;
    step next_step;
    min_heap_node timer; /* keyed by when next_step runs; queued only while waiting for that time */
    int64_t started_ms; /* for synthetic progress */
    int64_t poll_interval_ms;
    int64_t unknown_since_ms; /* submission unknown since then, 0 otherwise */
    int64_t last_forced_poll_ms;
    int estimated_seconds;
    /* the transfer in progress */
    CURL *easy;
    struct curl_slist *headers;
    upstream_request request;
    char *body;
    size_t body_size;
    char retry_after[64], retry_after_ms[32], poll_after_ms[32];
    /* the result: downloaded on the multi handle (download), then stored by a finishing thread */
    bool downloading;
    fetch_transfer *download;
    char scratch[PATH_MAX];
    double stated_duration;
} flight;

typedef enum { INBOX_ADD, INBOX_CANCEL, INBOX_POLL, INBOX_POLL_JOB, INBOX_DOWNLOADED } inbox_kind;

typedef struct inbox_item {
    inbox_kind kind;
    char task_id[IDS_TASK_ID_SIZE];
    char channel[64], job_id[128]; /* INBOX_POLL_JOB */
    bool ok;                       /* INBOX_DOWNLOADED: stored and completed */
} inbox_item;

/* A downloaded result for a finishing thread to probe, store and complete. */
typedef struct download_job {
    char task_id[IDS_TASK_ID_SIZE];
    char scratch[PATH_MAX]; /* holds output.mp4; removed by the finishing thread */
    double stated_duration;
} download_job;

struct upstream_runner {
    runner_config config;
    pthread_t thread;
    CURLM *multi;
    store *db;
    atomic_bool stopping;

    pthread_mutex_t lock; /* guards the inbox and the download queue */
    vector inbox;         /* of inbox_item */

    /* download pool */
    pthread_cond_t download_ready;
    vector downloads; /* of download_job */
    pthread_t *download_threads;
    int download_thread_count;
    atomic_size_t downloads_active;

    /* owned by the runner thread */
    routing_channel *channels;
    channel_slot *slots;
    size_t channel_count;
    int64_t channels_loaded_ms;
    str_map flights;            /* task id → flight */
    atomic_size_t flight_count; /* atomic: read by runner_get_stats from other threads */
    min_heap timers;            /* flights waiting for their next step, by due time */
    atomic_size_t transfers;

    webhook_keys *keys; /* the keys providers sign their webhooks with, fetched by the runner thread */
    char webhook_base[512];
};

/* ---- flights by id, and their timers ---- */

static flight *flight_find(upstream_runner *r, const char *id)
{
    return str_map_get(&r->flights, id);
}

static void timer_cancel(upstream_runner *r, flight *f)
{
    min_heap_remove(&r->timers, &f->timer);
}

/* (Re)arms the flight's timer for `what` at due_ms. */
static void schedule(upstream_runner *r, flight *f, step what, int64_t due_ms)
{
    f->next_step = what;
    if (min_heap_node_queued(&f->timer)) {
        min_heap_update(&r->timers, &f->timer, due_ms);
        return;
    }
    /* cannot fail: flight_begin reserved room for every flight's timer */
    bool queued = min_heap_push(&r->timers, &f->timer, due_ms);
    assert(queued);
    (void)queued;
}

/* ---- channels ---- */

static routing_channel *channel_named(upstream_runner *r, const char *name, size_t *index)
{
    for (size_t i = 0; i < r->channel_count; i++)
        if (strcmp(r->channels[i].record.name, name) == 0) {
            if (index) *index = i;
            return &r->channels[i];
        }
    return NULL;
}

/* Re-reads the channel table, keeping the routing state of channels that remain. */
static void channels_reload(upstream_runner *r, int64_t now_ms)
{
    channel_record *records = NULL;
    size_t count = 0;
    r->channels_loaded_ms = now_ms;
    if (store_channel_list(r->db, &records, &count) != STORE_OK) return;
    routing_channel *channels = calloc(count ? count : 1, sizeof(*channels));
    channel_slot *slots = calloc(count ? count : 1, sizeof(*slots));
    secret_box box;
    bool have_box = secret_box_load(r->config.data_dir, &box) == 0;
    if (channels == NULL || slots == NULL) {
        free(channels), free(slots), free(records);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        size_t old_index = 0;
        routing_channel *old = channel_named(r, records[i].name, &old_index);
        if (old != NULL && strcmp(old->record.provider, records[i].provider) == 0) {
            channels[i] = *old;
            slots[i].auth = r->slots[old_index].auth;
        }
        channels[i].record = records[i];
        channels[i].provider = upstream_provider_find(records[i].provider);
        if (records[i].credential_sealed[0] != '\0' &&
            (!have_box || secret_box_open(&box, records[i].credential_sealed, slots[i].credential,
                                          sizeof(slots[i].credential)) != 0)) {
            log_warn("a channel's credential cannot be opened; the channel is skipped", "channel=%s",
                     records[i].name);
            channels[i].provider = NULL;
        }
    }
    sodium_memzero(&box, sizeof(box));
    if (r->slots) sodium_memzero(r->slots, r->channel_count * sizeof(*r->slots));
    free(r->channels), free(r->slots), free(records);
    r->channels = channels, r->slots = slots, r->channel_count = count;
}

static void release_slot(upstream_runner *r, flight *f)
{
    if (!f->holds_slot) return;
    f->holds_slot = false;
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && c->in_flight > 0) c->in_flight--;
}

/* ---- the task's upstream record ---- */

static char *upstream_record(const flight *f, const char *phase, int64_t now_ms)
{
    json_t *record = json_object();
    json_object_set_new(record, "phase", json_string(phase));
    json_object_set_new(record, "channel", json_string(f->channel));
    if (f->job.id[0]) json_object_set_new(record, "job", upstream_job_to_json(&f->job));
    json_t *tried = json_array();
    for (int i = 0; i < f->tried_count; i++)
        json_array_append_new(tried, json_string(f->tried[i]));
    json_object_set_new(record, "tried", tried);
    if (json_array_size(f->advanced)) json_object_set(record, "advanced", f->advanced);
    if (f->unknown_since_ms)
        json_object_set_new(record, "unknown_since_ms", json_integer(f->unknown_since_ms));
    (void)now_ms;
    char *text = json_dumps(record, JSON_COMPACT);
    json_decref(record);
    return text;
}

static void log_task(const char *task_id, const char *what, const char *channel, const char *detail)
{
    log_info("task", "task=%s %s channel=%s%s%s", task_id, what, channel, detail[0] ? " " : "", detail);
}

/* ---- ending a flight ---- */

static void transfer_abort(upstream_runner *r, flight *f)
{
    if (f->easy == NULL) return;
    curl_multi_remove_handle(r->multi, f->easy);
    curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    upstream_request_clear(&f->request);
    free(f->body);
    f->easy = NULL, f->headers = NULL, f->body = NULL, f->body_size = 0;
    r->transfers--;
}

static bool download_end(upstream_runner *r, flight *f, CURLcode code, char *err, size_t err_size,
                         fetch_result *result);

static void flight_drop(upstream_runner *r, flight *f)
{
    timer_cancel(r, f);
    transfer_abort(r, f);
    if (f->download != NULL) { /* cancelled, timed out or stopping mid-download */
        fetch_result result;
        download_end(r, f, CURLE_ABORTED_BY_CALLBACK, NULL, 0, &result);
        blob_scratch_remove(f->scratch);
    }
    release_slot(r, f);
    flight *removed = str_map_remove(&r->flights, f->task_id);
    assert(removed == f);
    (void)removed;
    r->flight_count--;
    json_decref(f->params);
    json_decref(f->advanced);
    free(f);
}

static void fail_task(upstream_runner *r, flight *f, const char *code, const char *message)
{
    if (store_task_fail(r->db, f->task_id, code, message, clock_unix_seconds()) == STORE_OK) {
        char detail[96];
        snprintf(detail, sizeof(detail), "code=%s", code);
        log_task(f->task_id, "state=failed", f->channel[0] ? f->channel : "-", detail);
    }
    flight_drop(r, f);
}

/* ---- HTTP transfers on the multi handle ---- */

static size_t collect_body(char *data, size_t size, size_t count, void *userdata)
{
    flight *f = userdata;
    size_t n = size * count;
    if (f->body_size + n > BODY_LIMIT)
        return 0; /* an answer this big is not one we want: fail the transfer */
    char *grown = realloc(f->body, f->body_size + n + 1);
    if (grown == NULL) return 0;
    memcpy(grown + f->body_size, data, n);
    f->body = grown;
    f->body_size += n;
    f->body[f->body_size] = '\0';
    return n;
}

static void copy_header_value(const char *line, size_t length, const char *name, char *out, size_t out_size)
{
    size_t name_length = strlen(name);
    if (length <= name_length + 1 || strncasecmp(line, name, name_length) != 0 || line[name_length] != ':')
        return;
    const char *value = line + name_length + 1;
    size_t value_length = length - name_length - 1;
    while (value_length && (*value == ' ' || *value == '\t'))
        value++, value_length--;
    while (value_length && (value[value_length - 1] == '\r' || value[value_length - 1] == '\n' ||
                            value[value_length - 1] == ' '))
        value_length--;
    if (value_length >= out_size) value_length = out_size - 1;
    memcpy(out, value, value_length);
    out[value_length] = '\0';
}

static size_t collect_header(char *line, size_t size, size_t count, void *userdata)
{
    flight *f = userdata;
    size_t n = size * count;
    copy_header_value(line, n, "retry-after", f->retry_after, sizeof(f->retry_after));
    copy_header_value(line, n, "retry-after-ms", f->retry_after_ms, sizeof(f->retry_after_ms));
    copy_header_value(line, n, "openai-poll-after-ms", f->poll_after_ms, sizeof(f->poll_after_ms));
    return n;
}

/* Starts f->request on the multi handle. false when it cannot even start (the caller decides). */
static bool transfer_start(upstream_runner *r, flight *f, int64_t timeout_ms)
{
    const routing_channel *c = channel_named(r, f->channel, NULL);
    if (c == NULL ||
        (f->request.carries_credential && !upstream_same_origin(f->request.url, c->record.base_url))) {
        log_warn("refusing to send a credential off the channel's origin", "task=%s channel=%s", f->task_id,
                 f->channel);
        upstream_request_clear(&f->request);
        return false;
    }
    CURL *easy = curl_easy_init();
    if (easy == NULL) return false;
    f->retry_after[0] = f->retry_after_ms[0] = f->poll_after_ms[0] = '\0';
    free(f->body);
    f->body = NULL, f->body_size = 0;
    CURLcode code = CURLE_OK;
    for (int i = 0; code == CURLE_OK && i < f->request.header_count; i++)
        code = net_curl_header_append(&f->headers, f->request.headers[i]);
    if (code == CURLE_OK) code = net_curl_header_append(&f->headers, "Expect:");
    bool sends_body = f->request.body != NULL || strcmp(f->request.method, "PUT") == 0 ||
                      strcmp(f->request.method, "POST") == 0;
    net_curl_options options = {.url = f->request.url,
                                .connect_timeout_ms = 10000L,
                                .total_timeout_ms = (long)timeout_ms,
                                .headers = f->headers,
                                .method = f->request.method,
                                .body = f->request.body ? f->request.body : sends_body ? "" : NULL,
                                .body_size = f->request.body ? f->request.body_size : 0,
                                .write_body = collect_body,
                                .write_body_data = f,
                                .write_header = collect_header,
                                .write_header_data = f,
                                .user_agent = "reelay",
                                .private_data = f};
    if (code == CURLE_OK) code = net_curl_setup(easy, &options);
    if (code != CURLE_OK) {
        log_warn("a provider request could not be set up", "task=%s channel=%s error=\"%s\"", f->task_id,
                 f->channel, curl_easy_strerror(code));
        curl_easy_cleanup(easy);
        curl_slist_free_all(f->headers);
        f->headers = NULL;
        return false;
    }
    if (curl_multi_add_handle(r->multi, easy) != CURLM_OK) {
        curl_easy_cleanup(easy);
        curl_slist_free_all(f->headers);
        f->headers = NULL;
        return false;
    }
    f->easy = easy;
    timer_cancel(r, f);
    r->transfers++;
    return true;
}

/* ---- building contexts ---- */

static bool make_context(upstream_runner *r, flight *f, upstream_context *ctx,
                         const upstream_provider **provider, char *webhook, size_t webhook_size)
{
    size_t index = 0;
    routing_channel *c = channel_named(r, f->channel, &index);
    if (c == NULL || c->provider == NULL) return false;
    *provider = c->provider;
    webhook[0] = '\0';
    /* Webhooks only where the provider's table asks for them (some only with a signing secret) */
    bool wanted = upstream_webhook_wanted(c->provider, c->record.webhook_secret_sealed[0] != '\0');
    if (r->config.webhook_base != NULL && wanted)
        snprintf(webhook, webhook_size, "%s/v1/upstream/%s/webhook?task=%s", r->config.webhook_base,
                 f->channel, f->task_id);
    *ctx = (upstream_context){.base_url = c->record.base_url,
                              .credential = r->slots[index].credential,
                              .task_id = f->task_id,
                              .model = f->model,
                              .params = f->params,
                              .webhook_url = webhook[0] ? webhook : NULL,
                              .now = clock_unix_seconds(),
                              .auth = &r->slots[index].auth};
    return true;
}

/* ---- steps ---- */

static void step_route(upstream_runner *r, flight *f, int64_t now_ms);

static int64_t scaled(const upstream_runner *r, int64_t ms)
{
    int64_t value = (int64_t)((double)ms * r->config.poll_scale);
    return value < 20 ? 20 : value;
}

static void schedule_next_poll(upstream_runner *r, flight *f, int64_t now_ms, int64_t wish_ms)
{
    int64_t delay = f->poll_interval_ms;
    f->poll_interval_ms = f->poll_interval_ms * 3 / 2;
    if (f->poll_interval_ms > scaled(r, 30000)) f->poll_interval_ms = scaled(r, 30000);
    if (wish_ms > delay) delay = wish_ms;
    schedule(r, f, STEP_POLL, now_ms + delay);
}

static void send_step(upstream_runner *r, flight *f, step what, int64_t now_ms)
{
    upstream_context ctx;
    const upstream_provider *provider = NULL;
    char webhook[UPSTREAM_URL_SIZE];
    if (!make_context(r, f, &ctx, &provider, webhook, sizeof(webhook))) {
        /* the channel was removed or disabled under us: route again or give up */
        if (what == STEP_SUBMIT || what == STEP_ROUTE) {
            step_route(r, f, now_ms);
        } else {
            fail_task(r, f, "upstream_error", "The channel this task ran on was removed.");
        }
        return;
    }
    upstream_request_clear(&f->request);
    int built = -1;
    char err[256] = "";
    switch (what) {
    case STEP_SUBMIT:
        built = provider->build_submit(&ctx, &f->request, err, sizeof(err));
        break;
    case STEP_LOOKUP:
        built = provider->build_lookup ? provider->build_lookup(&ctx, &f->request, &f->job) : -1;
        break;
    case STEP_POLL:
        built = provider->build_poll(&ctx, &f->job, &f->request);
        break;
    case STEP_RESULT:
        built = provider->build_result ? provider->build_result(&ctx, &f->job, &f->request) : -1;
        break;
    default:
        break;
    }
    if (built != 0) {
        upstream_request_clear(&f->request);
        if (what == STEP_SUBMIT)
            fail_task(r, f, "invalid_parameters",
                      err[0] ? err : "The provider cannot take these parameters.");
        else
            fail_task(r, f, "upstream_error", "The request to the provider could not be built.");
        return;
    }
    f->next_step = what;
    int64_t timeout = what == STEP_SUBMIT || (what == STEP_LOOKUP && provider->lookup_is_submit)
                          ? r->config.submit_timeout_ms
                          : r->config.request_timeout_ms;
    if (!transfer_start(r, f, timeout)) {
        if (what == STEP_SUBMIT) { /* nothing was sent: a definite refusal of this channel */
            snprintf(f->last_error_code, sizeof(f->last_error_code), "upstream_error");
            snprintf(f->last_error_message, sizeof(f->last_error_message), "The request could not be sent.");
            if (f->tried_count < MAX_TRIED)
                snprintf(f->tried[f->tried_count++], sizeof(f->tried[0]), "%s", f->channel);
            release_slot(r, f);
            step_route(r, f, now_ms);
        } else {
            schedule(r, f, what, now_ms + scaled(r, 2000));
        }
    }
}

static void step_route(upstream_runner *r, flight *f, int64_t now_ms)
{
    if (now_ms - r->channels_loaded_ms > CHANNEL_RELOAD_MS) channels_reload(r, now_ms);
    const char *tried[MAX_TRIED + 1];
    for (int i = 0; i < f->tried_count; i++)
        tried[i] = f->tried[i];
    tried[f->tried_count] = NULL;
    size_t chosen = 0;
    int64_t retry_at = 0;
    routing_verdict verdict = routing_choose(r->channels, r->channel_count, f->model, f->advanced, tried,
                                             now_ms, randombytes_random(), &chosen, &retry_at);
    if (verdict == ROUTING_BUSY) {
        schedule(r, f, STEP_ROUTE, retry_at < now_ms + 50 ? now_ms + 50 : retry_at);
        return;
    }
    if (verdict != ROUTING_CHOSEN) {
        if (f->tried_count > 0 && f->last_error_code[0])
            fail_task(r, f, f->last_error_code, f->last_error_message);
        else if (verdict == ROUTING_UNSUPPORTED)
            fail_task(r, f, "unsupported_advanced_options",
                      "No enabled channel honours the advanced options given.");
        else
            fail_task(r, f, "no_available_channel", "No enabled channel serves this model.");
        return;
    }
    routing_channel *c = &r->channels[chosen];
    snprintf(f->channel, sizeof(f->channel), "%s", c->record.name);
    int64_t now = clock_unix_seconds();
    task_record task;
    memset(&task, 0, sizeof(task));
    if (store_task_get(r->db, f->task_id, &task) != STORE_OK || task_state_is_terminal(task.state)) {
        task_record_clear(&task);
        flight_drop(r, f);
        return;
    }
    task_state from = task.state;
    int64_t deadline_at = task.deadline_at;
    task_record_clear(&task);
    if (c->provider->runs_locally) {
        if (c->trial_in_flight) routing_record_success(c); /* the sandbox is local: no trial needed */
        if (store_task_set_upstream(r->db, f->task_id, from, TASK_SUBMITTING, f->channel,
                                    "{\"phase\":\"" TASK_PHASE_LOCAL "\"}", now) == STORE_OK)
            r->config.to_sandbox(r->config.sandbox_context, f->task_id, f->channel, deadline_at);
        flight_drop(r, f);
        return;
    }
    c->in_flight++;
    f->holds_slot = true;
    /* Written before the request leaves: after a crash from here on, the task is "submission unknown". */
    char *record = upstream_record(f, "sending", now_ms);
    store_status stored =
        record ? store_task_set_upstream(r->db, f->task_id, from, TASK_SUBMITTING, f->channel, record, now)
               : STORE_ERROR;
    free(record);
    if (stored != STORE_OK) {
        flight_drop(r, f); /* finished meanwhile (cancelled, timed out) */
        return;
    }
    log_task(f->task_id, "state=submitting", f->channel, "");
    send_step(r, f, STEP_SUBMIT, now_ms);
}

/* The job exists upstream: remember it and start polling. */
static void job_accepted(upstream_runner *r, flight *f, int64_t now_ms)
{
    f->unknown_since_ms = 0;
    char *record = upstream_record(f, "accepted", now_ms);
    store_status stored = record
                              ? store_task_set_upstream(r->db, f->task_id, TASK_SUBMITTING, TASK_PROCESSING,
                                                        NULL, record, clock_unix_seconds())
                              : STORE_ERROR;
    free(record);
    if (stored != STORE_OK) {
        /* cancelled or timed out while submitting: the job runs for nothing, so stop it if we can */
        flight_drop(r, f);
        return;
    }
    log_task(f->task_id, "state=processing", f->channel, f->job.id);
    f->started_ms = now_ms;
    f->poll_interval_ms = scaled(r, 2000);
    /* first look near the model's usual duration: asking earlier only costs requests */
    schedule(r, f, STEP_POLL, now_ms + scaled(r, (int64_t)f->estimated_seconds * 1000 / 2));
}

static void submission_unknown(upstream_runner *r, flight *f, const upstream_provider *provider,
                               int64_t now_ms, const char *why)
{
    if (f->unknown_since_ms == 0) {
        f->unknown_since_ms = now_ms;
        char *record = upstream_record(f, "unknown", now_ms);
        if (record)
            store_task_set_upstream(r->db, f->task_id, TASK_SUBMITTING, TASK_SUBMITTING, NULL, record,
                                    clock_unix_seconds());
        free(record);
        log_warn("submission unknown: the provider may have the job", "task=%s channel=%s reason=\"%s\"",
                 f->task_id, f->channel, why);
    }
    if (now_ms - f->unknown_since_ms >= r->config.unknown_grace_ms) {
        fail_task(
            r, f, "upstream_error",
            "The provider did not answer the submission and the job could not be found; the task was not "
            "submitted again.");
        return;
    }
    if (provider != NULL && provider->build_lookup != NULL) {
        schedule(r, f, STEP_LOOKUP, now_ms + scaled(r, 2000));
    } else {
        /* nothing to look up: wait for a webhook to name the job, or for the grace period to end */
        schedule(r, f, STEP_LOOKUP, f->unknown_since_ms + r->config.unknown_grace_ms);
    }
}

static void refused(upstream_runner *r, flight *f, const upstream_outcome *out, int64_t now_ms,
                    bool count_failure)
{
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && count_failure) routing_record_failure(c, now_ms);
    snprintf(f->last_error_code, sizeof(f->last_error_code), "%s",
             out->error_code[0] ? out->error_code : "upstream_error");
    snprintf(f->last_error_message, sizeof(f->last_error_message), "%s", out->error_message);
    if (f->tried_count < MAX_TRIED)
        snprintf(f->tried[f->tried_count++], sizeof(f->tried[0]), "%s", f->channel);
    char detail[600];
    snprintf(detail, sizeof(detail), "code=%s message=\"%s\"", f->last_error_code, f->last_error_message);
    log_task(f->task_id, "refused", f->channel, detail);
    release_slot(r, f);
    char *record = upstream_record(f, "refused", now_ms);
    if (record)
        store_task_set_upstream(r->db, f->task_id, TASK_SUBMITTING, TASK_SUBMITTING, NULL, record,
                                clock_unix_seconds());
    free(record);
    step_route(r, f, now_ms);
}

static void throttled(upstream_runner *r, flight *f, const upstream_outcome *out, int64_t now_ms)
{
    routing_channel *c = channel_named(r, f->channel, NULL);
    int64_t wait = out->retry_after_ms > 0 ? out->retry_after_ms : 2000;
    if (c != NULL && c->throttled_until_ms < now_ms + wait) c->throttled_until_ms = now_ms + wait;
    log_task(f->task_id, "throttled", f->channel, "");
    release_slot(r, f);
    step_route(r, f, now_ms); /* another channel now, or this one when the throttle ends */
}

static void set_progress(upstream_runner *r, flight *f, int progress, int64_t now_ms)
{
    if (progress < 0) { /* the provider gives none: estimate from the model's usual duration */
        double elapsed = (double)(now_ms - f->started_ms) / 1000.0;
        double usual = f->estimated_seconds > 0 ? f->estimated_seconds * r->config.poll_scale : 60;
        progress = (int)(90.0 * elapsed / (usual > 0.1 ? usual : 0.1));
        if (progress > 90) progress = 90;
    }
    store_task_set_progress(r->db, f->task_id, progress, clock_unix_seconds());
}

static void start_download(upstream_runner *r, flight *f, const upstream_provider *provider,
                           const upstream_context *ctx, const upstream_outcome *done)
{
    upstream_request request;
    memset(&request, 0, sizeof(request));
    if (provider->build_download(ctx, &f->job, done, &request) != 0) {
        upstream_request_clear(&request);
        fail_task(r, f, "upstream_error", "The provider reported success without a result to download.");
        return;
    }
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (request.carries_credential && (c == NULL || !upstream_same_origin(request.url, c->record.base_url))) {
        upstream_request_clear(&request);
        fail_task(r, f, "upstream_error", "The provider's result link points away from the provider.");
        return;
    }
    store_status moved = store_task_transition(r->db, f->task_id, TASK_PROCESSING, TASK_FINALIZING, NULL,
                                               clock_unix_seconds());
    if (moved != STORE_OK) {
        task_record task;
        memset(&task, 0, sizeof(task));
        bool already = store_task_get(r->db, f->task_id, &task) == STORE_OK && task.state == TASK_FINALIZING;
        task_record_clear(&task);
        if (!already) {
            upstream_request_clear(&request);
            flight_drop(r, f);
            return;
        }
    }
    /* the download is guarded like any user-given URL (the link came from the provider) and runs on
     * the multi handle with every other request */
    char path[PATH_MAX + 16], err[512] = "";
    const char *headers[UPSTREAM_MAX_HEADERS + 1];
    for (int i = 0; i < request.header_count; i++)
        headers[i] = request.headers[i];
    headers[request.header_count] = NULL;
    fetch_result started = FETCH_UNREACHABLE;
    if (blob_scratch_create(r->config.blobs, f->scratch, sizeof(f->scratch)) != 0) {
        f->scratch[0] = '\0';
        snprintf(err, sizeof(err), "no scratch space");
    } else {
        snprintf(path, sizeof(path), "%s/output.mp4", f->scratch);
        f->download =
            fetch_transfer_begin(request.url, headers, path, &r->config.fetch, &started, err, sizeof(err));
    }
    upstream_request_clear(&request);
    if (f->download != NULL) {
        CURL *easy = fetch_transfer_easy(f->download);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, f);
        if (curl_multi_add_handle(r->multi, easy) != CURLM_OK) {
            fetch_transfer_end(f->download, CURLE_FAILED_INIT, NULL, NULL, 0);
            f->download = NULL;
            snprintf(err, sizeof(err), "the transfer could not start");
        }
    }
    if (f->download == NULL) {
        if (f->scratch[0]) blob_scratch_remove(f->scratch);
        char message[700];
        snprintf(message, sizeof(message), "The result could not be downloaded from the provider (%s: %s).",
                 fetch_result_name(started), err);
        fail_task(r, f, "upstream_error", message);
        return;
    }
    atomic_fetch_add(&r->downloads_active, 1);
    f->stated_duration = done->duration;
    f->downloading = true;
    timer_cancel(r, f);
}

/* Ends a download on the multi handle; true when the file is complete at f->scratch/output.mp4. */
static bool download_end(upstream_runner *r, flight *f, CURLcode code, char *err, size_t err_size,
                         fetch_result *result)
{
    curl_multi_remove_handle(r->multi, fetch_transfer_easy(f->download));
    *result = fetch_transfer_end(f->download, code, NULL, err, err_size);
    f->download = NULL;
    atomic_fetch_sub(&r->downloads_active, 1);
    return *result == FETCH_OK;
}

/* Queues the downloaded result for a finishing thread. False when out of memory. */
static bool finish_push(upstream_runner *r, const flight *f)
{
    download_job job;
    memset(&job, 0, sizeof(job));
    snprintf(job.task_id, sizeof(job.task_id), "%s", f->task_id);
    snprintf(job.scratch, sizeof(job.scratch), "%s", f->scratch);
    job.stated_duration = f->stated_duration;
    pthread_mutex_lock(&r->lock);
    bool queued = vector_push(&r->downloads, &job) != NULL;
    if (queued) pthread_cond_signal(&r->download_ready);
    pthread_mutex_unlock(&r->lock);
    return queued;
}

/* The result's bytes arrived (or did not). */
static void download_done(upstream_runner *r, flight *f, CURLcode code)
{
    char err[512] = "";
    fetch_result result;
    bool downloaded = download_end(r, f, code, err, sizeof(err), &result);
    if (downloaded && finish_push(r, f)) return; /* the flight waits for INBOX_DOWNLOADED */
    blob_scratch_remove(f->scratch);
    char message[700];
    if (downloaded)
        snprintf(message, sizeof(message), "The result could not be stored: out of memory.");
    else
        snprintf(message, sizeof(message), "The result could not be downloaded from the provider (%s: %s).",
                 fetch_result_name(result), err);
    fail_task(r, f, "upstream_error", message);
}

/* A job's state as the provider reported it (from a poll, a result fetch or a look-up). */
static void job_state(upstream_runner *r, flight *f, const upstream_provider *provider,
                      const upstream_context *ctx, const upstream_outcome *out, int64_t now_ms)
{
    switch (out->phase) {
    case UPSTREAM_JOB_QUEUED:
    case UPSTREAM_JOB_RUNNING:
        set_progress(r, f, out->progress, now_ms);
        schedule_next_poll(r, f, now_ms, out->retry_after_ms);
        break;
    case UPSTREAM_JOB_FETCH_RESULT:
        send_step(r, f, STEP_RESULT, now_ms);
        break;
    case UPSTREAM_JOB_SUCCEEDED:
        start_download(r, f, provider, ctx, out);
        break;
    case UPSTREAM_JOB_FAILED:
        fail_task(r, f, out->error_code[0] ? out->error_code : "generation_failed", out->error_message);
        break;
    case UPSTREAM_JOB_LOST:
        fail_task(r, f, "upstream_error", "The provider no longer knows this job.");
        break;
    case UPSTREAM_JOB_RETRY:
        schedule_next_poll(r, f, now_ms, out->retry_after_ms);
        break;
    }
}

/* A transfer finished (code is libcurl's verdict). */
static void transfer_done(upstream_runner *r, flight *f, CURLcode code)
{
    int64_t now_ms = clock_unix_ms();
    long status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    /* 0 when the request never got as far as being sent (it waited for a connection the whole time) */
    curl_off_t pretransfer_us = 0;
    curl_easy_getinfo(f->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    /* detach the transfer; keep the body for parsing */
    char *body = f->body;
    size_t body_size = f->body_size;
    f->body = NULL, f->body_size = 0;
    curl_multi_remove_handle(r->multi, f->easy);
    curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->headers);
    f->easy = NULL, f->headers = NULL;
    r->transfers--;
    step what = f->next_step;
    upstream_request_clear(&f->request);

    upstream_context ctx;
    const upstream_provider *provider = NULL;
    char webhook[UPSTREAM_URL_SIZE];
    if (!make_context(r, f, &ctx, &provider, webhook, sizeof(webhook))) {
        free(body);
        if (what == STEP_SUBMIT)
            submission_unknown(r, f, NULL, now_ms, "the channel disappeared");
        else
            fail_task(r, f, "upstream_error", "The channel this task ran on was removed.");
        return;
    }
    upstream_response response = {.status = status,
                                  .body = body,
                                  .body_size = body_size,
                                  .retry_after = f->retry_after[0] ? f->retry_after : NULL,
                                  .retry_after_ms = f->retry_after_ms[0] ? f->retry_after_ms : NULL,
                                  .poll_after_ms = f->poll_after_ms[0] ? f->poll_after_ms : NULL};
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    out.progress = -1;
    routing_channel *c = channel_named(r, f->channel, NULL);
    bool submit_like = what == STEP_SUBMIT || (what == STEP_LOOKUP && provider->lookup_is_submit);

    if (code != CURLE_OK) {
        /* nothing reached the provider when the connection itself failed */
        bool nothing_sent = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                            code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_SSL_CONNECT_ERROR ||
                            code == CURLE_PEER_FAILED_VERIFICATION;
        char why[160];
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(code));
        if (what == STEP_SUBMIT && pretransfer_us == 0 && !nothing_sent) {
            /* it timed out waiting for a connection of ours: the provider never saw it, and nobody
             * refused it — route it again shortly, on this channel or another */
            log_task(f->task_id, "submit never left; routing again", f->channel, why);
            release_slot(r, f);
            schedule(r, f, STEP_ROUTE, now_ms + 1000);
        } else if (what == STEP_SUBMIT && nothing_sent) {
            upstream_set_error(&out, "upstream_error", why);
            refused(r, f, &out, now_ms, true);
        } else if (submit_like) {
            if (c) routing_record_failure(c, now_ms);
            submission_unknown(r, f, provider, now_ms, why);
        } else if (what == STEP_LOOKUP) {
            submission_unknown(r, f, provider, now_ms, why);
        } else {
            if (c) routing_record_failure(c, now_ms);
            schedule_next_poll(r, f, now_ms, 0);
        }
        free(body);
        return;
    }

    if (submit_like) {
        provider->parse_submit(&ctx, &response, &f->job, &out);
        switch (out.verdict) {
        case UPSTREAM_ACCEPTED:
            if (c) routing_record_success(c);
            job_accepted(r, f, now_ms);
            break;
        case UPSTREAM_REFUSED:
            if (what == STEP_LOOKUP) f->unknown_since_ms = 0; /* the replay says: no such job was made */
            refused(r, f, &out, now_ms,
                    response.status >= 500 || response.status == 401 || response.status == 403);
            break;
        case UPSTREAM_THROTTLED:
            if (what == STEP_LOOKUP)
                submission_unknown(r, f, provider, now_ms, "throttled during look-up");
            else
                throttled(r, f, &out, now_ms);
            break;
        case UPSTREAM_AMBIGUOUS:
            submission_unknown(r, f, provider, now_ms, out.error_message);
            break;
        }
    } else if (what == STEP_LOOKUP) {
        provider->parse_poll(&ctx, &response, &f->job, &out);
        if (out.phase == UPSTREAM_JOB_LOST) {
            /* the provider never made the job: sending it again cannot duplicate it */
            f->unknown_since_ms = 0;
            memset(&f->job, 0, sizeof(f->job));
            log_task(f->task_id, "look-up: no job upstream, submitting again", f->channel, "");
            send_step(r, f, STEP_SUBMIT, now_ms);
        } else if (out.phase == UPSTREAM_JOB_RETRY) {
            submission_unknown(r, f, provider, now_ms, "look-up answer unreadable");
        } else {
            char task_id[IDS_TASK_ID_SIZE];
            snprintf(task_id, sizeof(task_id), "%s", f->task_id);
            log_task(task_id, "look-up found the job", f->channel, f->job.id);
            job_accepted(r, f, now_ms);
            flight *still = flight_find(r, task_id);
            if (still != NULL) {
                ctx.task_id = still->task_id;
                job_state(r, still, provider, &ctx, &out, now_ms);
            }
        }
    } else if (what == STEP_POLL) {
        provider->parse_poll(&ctx, &response, &f->job, &out);
        job_state(r, f, provider, &ctx, &out, now_ms);
    } else if (what == STEP_RESULT) {
        provider->parse_result(&ctx, &response, &out);
        if (out.phase == UPSTREAM_JOB_RETRY)
            schedule(r, f, STEP_RESULT, now_ms + scaled(r, 2000));
        else
            job_state(r, f, provider, &ctx, &out, now_ms);
    }
    free(body);
}

/* ---- downloads (pool threads) ---- */

static bool finish_one(upstream_runner *r, store *db, const download_job *job)
{
    char path[PATH_MAX + 16], err[512] = "";
    const char *code = "generation_failed";
    const char *message = "The provider's result is not a playable video.";
    bool ok = false;
    snprintf(path, sizeof(path), "%s/output.mp4", job->scratch);
    media_info info;
    if (media_probe(path, &info, err, sizeof(err)) == 0 && info.has_video) {
        char name[128];
        snprintf(name, sizeof(name), "results/%s/output.mp4", job->task_id);
        if (blob_put_file(r->config.blobs, name, path) != 0) {
            code = "internal_error", message = "The result could not be stored.";
        } else {
            json_t *results =
                json_pack("[{s:s, s:s, s:f, s:i, s:i}]", "object", name, "content_type", "video/mp4",
                          "duration", info.duration > 0 ? info.duration : job->stated_duration, "width",
                          info.width, "height", info.height);
            char *text = results ? json_dumps(results, JSON_COMPACT) : NULL;
            json_decref(results);
            /* charged on the real length of the result, at the rate fixed when the task was admitted */
            int64_t charge = -1;
            task_record task;
            if (store_task_get(db, job->task_id, &task) == STORE_OK) {
                charge = price_settle(task.billing_json, info.duration);
                task_record_clear(&task);
            }
            ok = text != NULL && store_task_complete(db, job->task_id, TASK_FINALIZING, text, charge,
                                                     clock_unix_seconds()) == STORE_OK;
            free(text);
            if (ok) {
                log_task(job->task_id, "state=completed", "-", "");
            } else {
                char prefix[IDS_TASK_ID_SIZE + 16];
                snprintf(prefix, sizeof(prefix), "results/%s", job->task_id);
                blob_remove_prefix(r->config.blobs,
                                   prefix); /* finished meanwhile: the result is not wanted */
            }
            blob_scratch_remove(job->scratch);
            return ok;
        }
    }
    blob_scratch_remove(job->scratch);
    if (store_task_fail(db, job->task_id, code, message, clock_unix_seconds()) == STORE_OK)
        log_task(job->task_id, "state=failed", "-", code);
    return false;
}

static void inbox_push(upstream_runner *r, inbox_kind kind, const char *task_id, bool ok);

static void *download_main(void *arg)
{
    upstream_runner *r = arg;
    store *db = NULL;
    if (store_open(r->config.data_dir, &db) != STORE_OK) return NULL;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!atomic_load(&r->stopping) && r->downloads.count == 0)
            pthread_cond_wait(&r->download_ready, &r->lock);
        if (atomic_load(&r->stopping)) break;
        download_job job;
        vector_pop(&r->downloads, &job);
        pthread_mutex_unlock(&r->lock);
        bool ok = finish_one(r, db, &job);
        inbox_push(r, INBOX_DOWNLOADED, job.task_id, ok);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    store_close(db);
    return NULL;
}

/* ---- inbox ---- */

static void inbox_push_item(upstream_runner *r, const inbox_item *item);

static void inbox_push(upstream_runner *r, inbox_kind kind, const char *task_id, bool ok)
{
    inbox_item item;
    memset(&item, 0, sizeof(item));
    item.kind = kind;
    item.ok = ok;
    snprintf(item.task_id, sizeof(item.task_id), "%s", task_id);
    inbox_push_item(r, &item);
}

void runner_poll_job(upstream_runner *r, const char *channel, const char *job_id)
{
    inbox_item item;
    memset(&item, 0, sizeof(item));
    item.kind = INBOX_POLL_JOB;
    snprintf(item.channel, sizeof(item.channel), "%s", channel);
    snprintf(item.job_id, sizeof(item.job_id), "%s", job_id);
    inbox_push_item(r, &item);
}

static void inbox_push_item(upstream_runner *r, const inbox_item *source)
{
    pthread_mutex_lock(&r->lock);
    bool queued = vector_push(&r->inbox, source) != NULL;
    pthread_mutex_unlock(&r->lock);
    if (!queued) {
        log_error("runner out of memory; the task resumes on the next start", "task=%s", source->task_id);
        return;
    }
    curl_multi_wakeup(r->multi);
}

void runner_add(upstream_runner *r, const char *task_id)
{
    inbox_push(r, INBOX_ADD, task_id, false);
}
void runner_cancel(upstream_runner *r, const char *task_id)
{
    inbox_push(r, INBOX_CANCEL, task_id, false);
}
void runner_poll_now(upstream_runner *r, const char *task_id)
{
    inbox_push(r, INBOX_POLL, task_id, false);
}

/* Loads a task and decides where it resumes. */
static void flight_begin(upstream_runner *r, const char *task_id, int64_t now_ms)
{
    if (flight_find(r, task_id) != NULL) return;
    task_record task;
    memset(&task, 0, sizeof(task));
    if (store_task_get(r->db, task_id, &task) != STORE_OK || task_state_is_terminal(task.state)) {
        task_record_clear(&task);
        return;
    }
    flight *f = calloc(1, sizeof(*f));
    if (f == NULL) {
        task_record_clear(&task);
        return;
    }
    snprintf(f->task_id, sizeof(f->task_id), "%s", task.id);
    snprintf(f->model, sizeof(f->model), "%s", task.model);
    min_heap_node_init(&f->timer);
    f->started_ms = now_ms;
    f->poll_interval_ms = scaled(r, 2000);
    json_error_t error;
    f->params = task.params_json ? json_loads(task.params_json, 0, &error) : NULL;
    if (f->params == NULL) f->params = json_object();
    const catalog_model *model = catalog_model_find(task.model);
    f->estimated_seconds = model ? model->estimated_seconds : 60;
    json_t *record = task.upstream_json ? json_loads(task.upstream_json, 0, &error) : NULL;
    f->advanced = json_incref(json_object_get(record, "advanced"));
    if (!json_is_array(f->advanced)) json_decref(f->advanced), f->advanced = json_array();
    json_t *tried = json_object_get(record, "tried");
    size_t i;
    json_t *name;
    json_array_foreach(tried, i, name)
    {
        if (json_is_string(name) && f->tried_count < MAX_TRIED)
            snprintf(f->tried[f->tried_count++], sizeof(f->tried[0]), "%s", json_string_value(name));
    }
    const char *phase = json_string_value(json_object_get(record, "phase"));
    bool have_job = upstream_job_from_json(json_object_get(record, "job"), &f->job);
    json_t *since = json_object_get(record, "unknown_since_ms");
    snprintf(f->channel, sizeof(f->channel), "%s", task.channel);

    /* room for this flight's timer now, so that scheduling it never fails later */
    if (!min_heap_reserve(&r->timers, r->flight_count + 1) || !str_map_put(&r->flights, f->task_id, f)) {
        log_error("runner out of memory; the task resumes on the next start", "task=%s", task_id);
        json_decref(f->params), json_decref(f->advanced), json_decref(record);
        free(f);
        task_record_clear(&task);
        return;
    }
    r->flight_count++;

    routing_channel *c = f->channel[0] ? channel_named(r, f->channel, NULL) : NULL;
    if (task.state == TASK_PENDING ||
        (task.state == TASK_SUBMITTING && phase && strcmp(phase, "refused") == 0)) {
        f->channel[0] = '\0';
        step_route(r, f, now_ms);
    } else if (c != NULL && c->provider != NULL && c->provider->runs_locally) {
        r->config.to_sandbox(r->config.sandbox_context, f->task_id, f->channel, task.deadline_at);
        flight_drop(r, f);
    } else if (task.state == TASK_SUBMITTING) {
        /* sent (or being sent) when we stopped: the job may exist */
        if (c) c->in_flight++, f->holds_slot = true;
        f->unknown_since_ms = json_is_integer(since) ? json_integer_value(since) : 0;
        const upstream_provider *provider = c ? c->provider : NULL;
        submission_unknown(r, f, provider, now_ms, "restarted while submitting");
        if (flight_find(r, task_id) == f && provider && provider->build_lookup)
            schedule(r, f, STEP_LOOKUP, now_ms); /* look it up at once */
    } else if (have_job) {
        if (c) c->in_flight++, f->holds_slot = true;
        schedule(r, f, STEP_POLL, now_ms);
    } else {
        fail_task(r, f, "upstream_error", "The task's provider record was lost.");
    }
    json_decref(record);
    task_record_clear(&task);
}

static void flight_cancel(upstream_runner *r, const char *task_id)
{
    flight *f = flight_find(r, task_id);
    if (f == NULL) return;
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && c->provider != NULL && c->provider->build_cancel != NULL && f->job.id[0] &&
        !f->downloading) {
        /* fire and forget: the task is already cancelled here; the provider may still finish it */
        size_t index = 0;
        channel_named(r, f->channel, &index);
        upstream_context ctx = {.base_url = c->record.base_url,
                                .credential = r->slots[index].credential,
                                .task_id = f->task_id,
                                .model = f->model,
                                .params = f->params,
                                .now = clock_unix_seconds(),
                                .auth = &r->slots[index].auth};
        upstream_request request;
        memset(&request, 0, sizeof(request));
        if (c->provider->build_cancel(&ctx, &f->job, &request) == 0) {
            transfer_abort(r, f);
            timer_cancel(r, f);
            f->request = request;
            f->next_step = STEP_CANCEL; /* its answer is only logged */
            if (transfer_start(r, f, r->config.request_timeout_ms)) {
                release_slot(r, f);
                log_task(f->task_id, "cancel sent upstream", f->channel, f->job.id);
                return;
            }
        }
        upstream_request_clear(&request);
    }
    if (f->downloading && f->download == NULL) { /* being stored: it finds the task cancelled */
        release_slot(r, f);
        return;
    }
    flight_drop(r, f);
}

/* A webhook or a client asked for fresh news: poll now, at most once a second per task. */
static void poll_soon(upstream_runner *r, flight *f, int64_t now_ms)
{
    if (f == NULL || f->easy != NULL || f->downloading || now_ms - f->last_forced_poll_ms < 1000) return;
    if (f->next_step == STEP_POLL) {
        f->last_forced_poll_ms = now_ms;
        schedule(r, f, STEP_POLL, now_ms);
    } else if (f->next_step == STEP_LOOKUP && f->unknown_since_ms != 0) {
        f->last_forced_poll_ms = now_ms; /* a webhook for a submission we lost track of: look it up now */
        schedule(r, f, STEP_LOOKUP, now_ms);
    }
}

static void drain_inbox(upstream_runner *r, int64_t now_ms)
{
    pthread_mutex_lock(&r->lock);
    vector taken = r->inbox;
    vector_init(&r->inbox, sizeof(inbox_item));
    pthread_mutex_unlock(&r->lock);
    size_t count = 0;
    inbox_item *items = vector_release(&taken, &count);
    for (size_t i = 0; i < count; i++) {
        flight *f = NULL;
        void *value = NULL;
        switch (items[i].kind) {
        case INBOX_ADD:
            flight_begin(r, items[i].task_id, now_ms);
            break;
        case INBOX_CANCEL:
            flight_cancel(r, items[i].task_id);
            break;
        case INBOX_POLL:
            poll_soon(r, flight_find(r, items[i].task_id), now_ms);
            break;
        case INBOX_POLL_JOB:
            /* a linear look: webhooks that name only the provider's job are rare (OpenAI's) */
            for (size_t cursor = 0; items[i].job_id[0] && str_map_next(&r->flights, &cursor, NULL, &value);) {
                f = value;
                if (strcmp(f->job.id, items[i].job_id) == 0 && strcmp(f->channel, items[i].channel) == 0)
                    poll_soon(r, f, now_ms);
            }
            break;
        case INBOX_DOWNLOADED:
            f = flight_find(r, items[i].task_id);
            if (f) {
                routing_channel *c = channel_named(r, f->channel, NULL);
                if (c && items[i].ok) routing_record_success(c);
                flight_drop(r, f);
            }
            break;
        }
    }
    free(items);
}

/* ---- the keys providers sign webhooks with (engine/webhook_keys.c) ---- */

bool runner_webhook_keys(upstream_runner *r, const upstream_provider *provider, char *out, size_t out_size)
{
    return webhook_keys_copy(r->keys, provider, out, out_size);
}

void runner_refresh_webhook_keys(upstream_runner *r, const upstream_provider *provider)
{
    webhook_keys_ask_refresh(r->keys, provider);
    curl_multi_wakeup(r->multi);
}

/* ---- the thread ---- */

static void run_due(upstream_runner *r, int64_t now_ms)
{
    min_heap_node *due;
    while ((due = min_heap_peek(&r->timers)) != NULL && due->key <= now_ms) {
        flight *f = MIN_HEAP_ENTRY(min_heap_pop(&r->timers), flight, timer);
        switch (f->next_step) {
        case STEP_ROUTE:
            step_route(r, f, now_ms);
            break;
        case STEP_LOOKUP: {
            routing_channel *c = channel_named(r, f->channel, NULL);
            if (now_ms - f->unknown_since_ms >= r->config.unknown_grace_ms || c == NULL ||
                c->provider == NULL || c->provider->build_lookup == NULL)
                submission_unknown(r, f, c ? c->provider : NULL, now_ms, "grace period over");
            else
                send_step(r, f, STEP_LOOKUP, now_ms);
            break;
        }
        default:
            send_step(r, f, f->next_step, now_ms);
            break;
        }
    }
}

static void *runner_main(void *arg)
{
    upstream_runner *r = arg;
    while (!atomic_load(&r->stopping)) {
        int64_t now_ms = clock_unix_ms();
        if (now_ms - r->channels_loaded_ms > CHANNEL_RELOAD_MS) channels_reload(r, now_ms);
        drain_inbox(r, now_ms);
        run_due(r, now_ms);
        if (r->config.webhook_base != NULL)
            webhook_keys_tick(r->keys, r->multi, r->channels, r->channel_count, now_ms);
        int running = 0;
        curl_multi_perform(r->multi, &running);
        CURLMsg *message;
        int left = 0;
        while ((message = curl_multi_info_read(r->multi, &left)) != NULL) {
            if (message->msg != CURLMSG_DONE) continue;
            flight *f = NULL;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&f);
            CURLcode code = message->data.result;
            if (webhook_keys_done(r->keys, r->multi, message->easy_handle, code, clock_unix_ms())) continue;
            if (f == NULL) continue;
            if (f->download != NULL && message->easy_handle == fetch_transfer_easy(f->download)) {
                download_done(r, f, code);
                continue;
            }
            if (f->next_step == STEP_CANCEL) { /* a cancel's answer */
                long status = 0;
                curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
                log_info("upstream cancel answered", "task=%s status=%ld", f->task_id, status);
                flight_drop(r, f);
                continue;
            }
            transfer_done(r, f, code);
        }
        int64_t wait_ms = 1000;
        if (min_heap_count(&r->timers) > 0) {
            int64_t until = min_heap_peek(&r->timers)->key - clock_unix_ms();
            if (until < wait_ms) wait_ms = until < 0 ? 0 : until;
        }
        curl_multi_poll(r->multi, NULL, 0, (int)wait_ms, NULL);
    }
    return NULL;
}

upstream_runner *runner_start(const runner_config *config)
{
    upstream_runner *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    r->config = *config;
    if (r->config.poll_scale <= 0) r->config.poll_scale = 1;
    if (r->config.submit_timeout_ms <= 0) r->config.submit_timeout_ms = 30000;
    if (r->config.request_timeout_ms <= 0) r->config.request_timeout_ms = 30000;
    if (r->config.unknown_grace_ms <= 0) r->config.unknown_grace_ms = 600000;
    if (r->config.download_workers <= 0) r->config.download_workers = 4;
    if (r->config.webhook_base != NULL) {
        size_t length = strlen(r->config.webhook_base);
        while (length > 0 && r->config.webhook_base[length - 1] == '/')
            length--;
        snprintf(r->webhook_base, sizeof(r->webhook_base), "%.*s", (int)length, r->config.webhook_base);
        r->config.webhook_base = r->webhook_base;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->download_ready, NULL);
    vector_init(&r->inbox, sizeof(inbox_item));
    vector_init(&r->downloads, sizeof(download_job));
    str_map_init(&r->flights);
    min_heap_init(&r->timers);
    r->multi = fetch_library_ready() ? curl_multi_init() : NULL;
    r->keys = webhook_keys_create(config->webhook_keys_url);
    if (r->multi == NULL || r->keys == NULL || store_open(config->data_dir, &r->db) != STORE_OK) goto fail;
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    channels_reload(r, clock_unix_ms());
    r->download_threads = calloc((size_t)r->config.download_workers, sizeof(pthread_t));
    if (r->download_threads == NULL) goto fail;
    for (int i = 0; i < r->config.download_workers; i++)
        if (pthread_create(&r->download_threads[i], NULL, download_main, r) == 0) r->download_thread_count++;
    if (pthread_create(&r->thread, NULL, runner_main, r) != 0) goto fail;
    return r;
fail:
    log_error("the upstream runner could not start", "data=\"%s\"", config->data_dir);
    atomic_store(&r->stopping, true);
    pthread_cond_broadcast(&r->download_ready);
    for (int i = 0; i < r->download_thread_count; i++)
        pthread_join(r->download_threads[i], NULL);
    free(r->download_threads);
    if (r->db) store_close(r->db);
    webhook_keys_destroy(r->keys, r->multi);
    if (r->multi) curl_multi_cleanup(r->multi);
    free(r);
    return NULL;
}

void runner_stop(upstream_runner *r)
{
    pthread_mutex_lock(&r->lock);
    atomic_store(&r->stopping, true);
    pthread_cond_broadcast(&r->download_ready);
    pthread_mutex_unlock(&r->lock);
    curl_multi_wakeup(r->multi);
    pthread_join(r->thread, NULL);
    for (int i = 0; i < r->download_thread_count; i++)
        pthread_join(r->download_threads[i], NULL);
    size_t hint = 0;
    flight *f;
    while ((f = str_map_any(&r->flights, &hint)) != NULL)
        flight_drop(r, f);
    webhook_keys_destroy(r->keys, r->multi);
    free(r->download_threads);
    vector_free(&r->downloads);
    vector_free(&r->inbox);
    min_heap_free(&r->timers);
    str_map_free(&r->flights);
    if (r->slots) sodium_memzero(r->slots, r->channel_count * sizeof(*r->slots));
    free(r->slots);
    free(r->channels);
    curl_multi_cleanup(r->multi);
    store_close(r->db);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->download_ready);
    free(r);
}

void runner_get_stats(upstream_runner *r, runner_stats *out)
{
    out->flights = atomic_load(&r->flight_count);
    out->transfers = atomic_load(&r->transfers);
    out->downloads = atomic_load(&r->downloads_active);
}
