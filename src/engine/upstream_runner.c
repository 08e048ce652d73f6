/* upstream_runner.c — the upstream runner's loop (see upstream_runner.h and runner_state.h): one
 * thread, one libcurl multi handle for every provider request and result download, an inbox for work
 * from other threads, and a timer heap holding each waiting task's next step. What a task does when
 * its time comes is runner_flights.c's business; the keys providers sign webhooks with are fetched
 * here too (engine/webhook_keys.c). */
#include "engine/upstream_runner.h"

#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runner_channels.h"
#include "engine/runner_flights.h"
#include "engine/runner_results.h"
#include "engine/runner_state.h"
#include "engine/runner_steps.h"
#include "engine/webhook_keys.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- flights and their timers ---- */

flight *runner_flight_find(upstream_runner *r, const char *task_id)
{
    return str_map_get(&r->flights, task_id);
}

bool runner_track(upstream_runner *r, flight *f)
{
    /* room for this flight's timer now, so that scheduling it never fails later */
    if (!min_heap_reserve(&r->timers, r->flight_count + 1) || !str_map_put(&r->flights, f->task_id, f))
        return false;
    r->flight_count++;
    return true;
}

void runner_untrack(upstream_runner *r, flight *f)
{
    assert(!min_heap_node_queued(&f->timer));
    flight *removed = str_map_remove(&r->flights, f->task_id);
    assert(removed == f);
    (void)removed;
    r->flight_count--;
}

void runner_timer_cancel(upstream_runner *r, flight *f)
{
    min_heap_remove(&r->timers, &f->timer);
}

void runner_schedule(upstream_runner *r, flight *f, task_step what, int64_t due_ms)
{
    /* a flight waits for one thing at a time: its timer, or a request, or its result */
    assert(!upstream_transfer_active(f->transfer) && f->download == NULL && !f->lane_waiting);
    f->next_step = what;
    if (min_heap_node_queued(&f->timer)) {
        min_heap_update(&r->timers, &f->timer, due_ms);
        return;
    }
    /* cannot fail: runner_track reserved room for every flight's timer */
    bool queued = min_heap_push(&r->timers, &f->timer, due_ms);
    assert(queued);
    (void)queued;
}

/* ---- the channels' lanes ---- */

/* The lane of channel, made when absent (NULL when out of memory). */
static send_lane *lane_of(upstream_runner *r, const char *channel)
{
    send_lane *lane = str_map_get(&r->lanes, channel);
    if (lane != NULL) return lane;
    lane = calloc(1, sizeof(*lane));
    if (lane == NULL) return NULL;
    snprintf(lane->channel, sizeof(lane->channel), "%s", channel);
    if (!str_map_put(&r->lanes, lane->channel, lane)) {
        free(lane);
        return NULL;
    }
    return lane;
}

bool runner_lane_open(upstream_runner *r, const flight *f)
{
    const send_lane *lane = str_map_get(&r->lanes, f->channel);
    return lane == NULL || (lane->active < LANE_REQUESTS && lane->first == NULL);
}

bool runner_lane_wait(upstream_runner *r, flight *f, task_step what)
{
    assert(!f->lane_waiting && f->lane == NULL);
    send_lane *lane = lane_of(r, f->channel);
    if (lane == NULL) return false;
    runner_timer_cancel(r, f);
    f->next_step = what;
    f->lane = lane;
    f->lane_waiting = true;
    f->lane_prev = lane->last;
    f->lane_next = NULL;
    if (lane->last)
        lane->last->lane_next = f;
    else
        lane->first = f;
    lane->last = f;
    return true;
}

void runner_lane_leave(upstream_runner *r, flight *f)
{
    (void)r;
    if (!f->lane_waiting) return;
    send_lane *lane = f->lane;
    if (f->lane_prev)
        f->lane_prev->lane_next = f->lane_next;
    else
        lane->first = f->lane_next;
    if (f->lane_next)
        f->lane_next->lane_prev = f->lane_prev;
    else
        lane->last = f->lane_prev;
    f->lane_prev = f->lane_next = NULL;
    f->lane_waiting = false;
    f->lane = NULL;
}

void runner_request_started(upstream_runner *r, flight *f)
{
    assert(!f->lane_waiting);
    r->transfers++;
    f->lane = lane_of(r, f->channel); /* NULL when out of memory: the request is then not counted there */
    if (f->lane) f->lane->active++;
}

void runner_request_ended(upstream_runner *r, flight *f)
{
    r->transfers--;
    if (f->lane != NULL && f->lane->active > 0) f->lane->active--;
    f->lane = NULL;
}

/* Sends what the flights waiting in the lanes have to send, oldest first, while each lane has room. */
static void send_waiting(upstream_runner *r, int64_t now_ms)
{
    void *value = NULL;
    for (size_t cursor = 0; str_map_next(&r->lanes, &cursor, NULL, &value);) {
        send_lane *lane = value;
        while (lane->first != NULL && lane->active < LANE_REQUESTS) {
            flight *f = lane->first;
            runner_lane_leave(r, f);
            flight_send_waiting(r, f, now_ms); /* starts its request, or decides otherwise */
        }
    }
}

/* ---- inbox ---- */

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

static void inbox_push(upstream_runner *r, inbox_kind kind, const char *task_id, bool ok)
{
    inbox_item item;
    memset(&item, 0, sizeof(item));
    item.kind = kind;
    item.ok = ok;
    snprintf(item.task_id, sizeof(item.task_id), "%s", task_id);
    inbox_push_item(r, &item);
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

void runner_webhook_verified(upstream_runner *r, const char *task_id)
{
    inbox_push(r, INBOX_POLL, task_id, true);
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

void runner_reload_channels(upstream_runner *r)
{
    atomic_store(&r->channels_stale, true);
    curl_multi_wakeup(r->multi);
}

/* A finishing thread is done with a result (result_finishing.h): the runner thread lets the task go. */
static void result_finished(void *context, const char *task_id, bool completed)
{
    inbox_push(context, INBOX_DOWNLOADED, task_id, completed);
}

/* Pokes every flight waiting on this channel's job (webhooks that name only the provider's job). */
static void poke_job(upstream_runner *r, const inbox_item *item, int64_t now_ms)
{
    if (item->job_id[0] == '\0') return;
    /* a linear look: webhooks that name only the provider's job are rare (OpenAI's) */
    void *value = NULL;
    for (size_t cursor = 0; str_map_next(&r->flights, &cursor, NULL, &value);) {
        flight *f = value;
        if (strcmp(flight_job_id(f), item->job_id) == 0 && strcmp(f->channel, item->channel) == 0)
            flight_poke(r, f, now_ms, false);
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
        switch (items[i].kind) {
        case INBOX_ADD:
            flight_begin(r, items[i].task_id, now_ms);
            break;
        case INBOX_CANCEL:
            flight_cancel(r, items[i].task_id);
            break;
        case INBOX_POLL:
            flight_poke(r, runner_flight_find(r, items[i].task_id), now_ms, items[i].ok);
            break;
        case INBOX_POLL_JOB:
            poke_job(r, &items[i], now_ms);
            break;
        case INBOX_DOWNLOADED:
            f = runner_flight_find(r, items[i].task_id);
            if (f) result_flight_finished(r, f, items[i].ok);
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
    while ((due = min_heap_peek(&r->timers)) != NULL && due->key <= now_ms)
        flight_due(r, MIN_HEAP_ENTRY(min_heap_pop(&r->timers), flight, timer), now_ms);
}

/* Hands every finished transfer to its owner. */
static void collect_finished(upstream_runner *r)
{
    CURLMsg *message;
    int left = 0;
    while ((message = curl_multi_info_read(r->multi, &left)) != NULL) {
        if (message->msg != CURLMSG_DONE) continue;
        CURLcode code = message->data.result;
        if (webhook_keys_done(r->keys, r->multi, message->easy_handle, code, clock_unix_ms())) continue;
        char *owner = NULL;
        if (curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &owner) != CURLE_OK || owner == NULL) {
            log_error("a finished transfer has no owner", "code=%d", (int)code);
            curl_multi_remove_handle(r->multi, message->easy_handle);
            curl_easy_cleanup(message->easy_handle);
            continue;
        }
        flight_transfer_done(r, (flight *)owner, message->easy_handle, code);
    }
}

/* Publishes the channels' routing state for runner_channel_health when it changed (kept as it was when
 * out of memory). Only this thread writes r->health: it reads it without the lock. */
static void publish_health(upstream_runner *r)
{
    bool same = r->health != NULL && r->health_count == r->channel_count;
    for (size_t i = 0; same && i < r->channel_count; i++) {
        routing_channel_health now;
        routing_health_of(&r->channels[i], &now);
        same = memcmp(&now, &r->health[i], sizeof(now)) == 0;
    }
    if (same) return;
    routing_channel_health *fresh = calloc(r->channel_count ? r->channel_count : 1, sizeof(*fresh));
    if (fresh == NULL) return;
    for (size_t i = 0; i < r->channel_count; i++)
        routing_health_of(&r->channels[i], &fresh[i]);
    pthread_mutex_lock(&r->health_lock);
    routing_channel_health *old = r->health;
    r->health = fresh;
    r->health_count = r->channel_count;
    pthread_mutex_unlock(&r->health_lock);
    free(old);
}

bool runner_channel_health(upstream_runner *r, routing_channel_health **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    pthread_mutex_lock(&r->health_lock);
    bool ok = true;
    if (r->health_count > 0) {
        *out = malloc(r->health_count * sizeof(**out));
        if (*out != NULL) {
            memcpy(*out, r->health, r->health_count * sizeof(**out));
            *count = r->health_count;
        } else {
            ok = false;
        }
    }
    pthread_mutex_unlock(&r->health_lock);
    return ok;
}

static void *runner_main(void *arg)
{
    upstream_runner *r = arg;
    while (!atomic_load(&r->stopping)) {
        int64_t now_ms = clock_unix_ms();
        if (atomic_exchange(&r->channels_stale, false) || now_ms - r->channels_loaded_ms >= CHANNEL_RELOAD_MS)
            channels_reload(r, now_ms);
        drain_inbox(r, now_ms);
        run_due(r, now_ms);
        if (r->config.webhook_base != NULL)
            webhook_keys_tick(r->keys, r->multi, r->channels, r->channel_count, now_ms);
        int running = 0;
        CURLMcode performed = curl_multi_perform(r->multi, &running);
        if (performed != CURLM_OK)
            log_error("the provider transfers stalled", "error=\"%s\"", curl_multi_strerror(performed));
        collect_finished(r);
        send_waiting(r, now_ms);
        publish_health(r);
        int64_t wait_ms = r->channels_loaded_ms + CHANNEL_RELOAD_MS - clock_unix_ms(); /* at most that */
        if (wait_ms < 0) wait_ms = 0;
        min_heap_node *next = min_heap_peek(&r->timers);
        if (next != NULL) {
            int64_t until = next->key - clock_unix_ms();
            if (until < wait_ms) wait_ms = until < 0 ? 0 : until;
        }
        curl_multi_poll(r->multi, NULL, 0, (int)wait_ms, NULL);
    }
    return NULL;
}

static void runner_settle_config(upstream_runner *r, const runner_config *config)
{
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
}

/* Frees what runner_start made (the thread is not running). */
static void runner_free(upstream_runner *r)
{
    result_finishing_stop(r->finishing);
    size_t hint = 0;
    flight *f;
    while ((f = str_map_any(&r->flights, &hint)) != NULL)
        flight_drop(r, f);
    webhook_keys_destroy(r->keys, r->multi);
    void *lane = NULL;
    for (size_t cursor = 0; str_map_next(&r->lanes, &cursor, NULL, &lane);)
        free(lane);
    str_map_free(&r->lanes);
    vector_free(&r->inbox);
    min_heap_free(&r->timers);
    str_map_free(&r->flights);
    if (r->slots) sodium_memzero(r->slots, r->channel_count * sizeof(*r->slots));
    free(r->slots);
    free(r->channels);
    if (r->multi) curl_multi_cleanup(r->multi);
    if (r->db) store_close(r->db);
    pthread_mutex_destroy(&r->lock);
    pthread_mutex_destroy(&r->health_lock);
    free(r->health);
    free(r);
}

upstream_runner *runner_start(const runner_config *config)
{
    upstream_runner *r = calloc(1, sizeof(*r));
    if (r == NULL) return NULL;
    runner_settle_config(r, config);
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->health_lock, NULL);
    vector_init(&r->inbox, sizeof(inbox_item));
    str_map_init(&r->flights);
    str_map_init(&r->lanes);
    min_heap_init(&r->timers);
    r->multi = fetch_library_ready() ? curl_multi_init() : NULL;
    r->keys = webhook_keys_create(r->config.webhook_keys_url);
    if (r->multi == NULL || r->keys == NULL ||
        store_open_url(config->database_url, config->data_dir, &r->db) != STORE_OK)
        goto fail;
    store_set_lease_epoch(r->db, config->lease_epoch);
    store_observe_tasks(r->db, config->task_observer, config->task_observer_context);
    if (curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L) != CURLM_OK) goto fail;
    channels_reload(r, clock_unix_ms());
    result_finishing_config finishing = {.database_url = config->database_url,
                                         .data_dir = config->data_dir,
                                         .lease_epoch = config->lease_epoch,
                                         .task_observer = config->task_observer,
                                         .task_observer_context = config->task_observer_context,
                                         .previews = config->previews};
    r->finishing =
        result_finishing_start(&finishing, r->config.blobs, r->config.download_workers, result_finished, r);
    if (r->finishing == NULL || pthread_create(&r->thread, NULL, runner_main, r) != 0) goto fail;
    return r;
fail:
    log_error("the upstream runner could not start", "data=\"%s\"", config->data_dir);
    runner_free(r);
    return NULL;
}

void runner_stop(upstream_runner *r)
{
    atomic_store(&r->stopping, true);
    curl_multi_wakeup(r->multi);
    pthread_join(r->thread, NULL);
    runner_free(r); /* the finishing threads first: they report to the inbox */
}

void runner_get_stats(upstream_runner *r, runner_stats *out)
{
    out->flights = atomic_load(&r->flight_count);
    out->transfers = atomic_load(&r->transfers);
    out->downloads = atomic_load(&r->downloads_active);
}
