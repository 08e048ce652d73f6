/* cluster_signals.c — the listening thread, its subscribers and the wire format (see cluster_signals.h). */
#include "engine/cluster_signals.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

enum { WAIT_SLICE_MS = 250, BACKOFF_FIRST_MS = 100, BACKOFF_MAX_MS = 5000 };

typedef struct subscriber {
    char kind[STORE_SIGNAL_KIND_MAX + 1];
    cluster_signal_fn on_signal;
    void *context;
} subscriber;

struct cluster_signals {
    char origin[CLUSTER_ORIGIN_SIZE];
    store *listen_db; /* the thread's alone */
    pthread_t thread;
    bool thread_started;
    atomic_bool stopping;

    pthread_mutex_t lock; /* guards what follows */
    subscriber subscribers[CLUSTER_SUBSCRIBERS_MAX];
    size_t subscriber_count;
    store *send_db; /* broadcasts, one at a time */
};

/* ---- the wire format ---- */

static bool origin_is_valid(const char *origin)
{
    if (strcmp(origin, "-") == 0) return true;
    if (strlen(origin) != CLUSTER_ORIGIN_SIZE - 1) return false;
    for (const char *c = origin; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
    return true;
}

bool cluster_signal_compose(const char *origin, const char *body, char *out, size_t out_size)
{
    if (!origin_is_valid(origin)) return false;
    int length = snprintf(out, out_size, "%s %s", origin, body);
    return length >= 0 && (size_t)length < out_size;
}

bool cluster_signal_split(const char *payload, char origin[CLUSTER_ORIGIN_SIZE], const char **body)
{
    size_t length = strcspn(payload, " ");
    if (payload[length] != ' ' || length >= CLUSTER_ORIGIN_SIZE) return false;
    memcpy(origin, payload, length);
    origin[length] = '\0';
    if (!origin_is_valid(origin)) return false;
    *body = payload + length + 1;
    return true;
}

/* ---- subscribers ---- */

bool cluster_signals_subscribe(cluster_signals *signals, const char *kind, cluster_signal_fn on_signal,
                               void *context)
{
    pthread_mutex_lock(&signals->lock);
    bool room = signals->subscriber_count < CLUSTER_SUBSCRIBERS_MAX;
    if (room) {
        subscriber *added = &signals->subscribers[signals->subscriber_count++];
        snprintf(added->kind, sizeof(added->kind), "%s", kind);
        added->on_signal = on_signal;
        added->context = context;
    }
    pthread_mutex_unlock(&signals->lock);
    return room;
}

/* Calls the subscribers of `kind` (every subscriber when kind is NULL: signals were missed) with body,
 * outside the lock: a callback may subscribe or broadcast. */
static void dispatch(cluster_signals *signals, const char *kind, const char *body)
{
    subscriber called[CLUSTER_SUBSCRIBERS_MAX];
    size_t count = 0;
    pthread_mutex_lock(&signals->lock);
    for (size_t i = 0; i < signals->subscriber_count; i++)
        if (kind == NULL || strcmp(signals->subscribers[i].kind, kind) == 0)
            called[count++] = signals->subscribers[i];
    pthread_mutex_unlock(&signals->lock);
    for (size_t i = 0; i < count; i++)
        called[i].on_signal(called[i].context, body);
}

/* ---- sending ---- */

static store_status send_from(store *db, const char *origin, const char *kind, const char *body)
{
    char payload[STORE_SIGNAL_PAYLOAD_MAX + 1];
    if (!cluster_signal_compose(origin, body, payload, sizeof(payload))) {
        log_error("signal refused: its body is too long", "kind=%s length=%zu", kind, strlen(body));
        return STORE_ERROR;
    }
    return store_signal_send(db, kind, payload);
}

store_status cluster_signals_broadcast(cluster_signals *signals, const char *kind, const char *body)
{
    pthread_mutex_lock(&signals->lock);
    store_status status = send_from(signals->send_db, signals->origin, kind, body);
    pthread_mutex_unlock(&signals->lock);
    return status;
}

store_status cluster_signal_publish(store *db, const char *kind, const char *body)
{
    return send_from(db, "-", kind, body);
}

/* ---- the listening thread ---- */

/* Sleeps ms in slices, returning early (false) when stopping. */
static bool sleep_unless_stopping(cluster_signals *signals, int64_t ms)
{
    while (ms > 0 && !atomic_load(&signals->stopping)) {
        int64_t slice = ms < WAIT_SLICE_MS ? ms : WAIT_SLICE_MS;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
        nanosleep(&pause, NULL);
        ms -= slice;
    }
    return !atomic_load(&signals->stopping);
}

/* Listens again until it works (or stopping), waiting longer after each failure; then every subscriber
 * re-reads, since signals sent meanwhile are lost. */
static void reconnect(cluster_signals *signals)
{
    int64_t backoff_ms = BACKOFF_FIRST_MS;
    while (sleep_unless_stopping(signals, backoff_ms)) {
        if (store_signal_listen(signals->listen_db) == STORE_OK) {
            log_info("listening to the other nodes again; caches re-read", "backoff_ms=%lld",
                     (long long)backoff_ms);
            dispatch(signals, NULL, NULL);
            return;
        }
        backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
    }
}

static void *listen_main(void *arg)
{
    cluster_signals *signals = arg;
    char kind[STORE_SIGNAL_KIND_MAX + 1], payload[STORE_SIGNAL_PAYLOAD_MAX + 1];
    while (!atomic_load(&signals->stopping)) {
        store_status status = store_signal_wait(signals->listen_db, WAIT_SLICE_MS, kind, sizeof(kind),
                                                payload, sizeof(payload));
        if (status == STORE_ERROR) {
            reconnect(signals);
            continue;
        }
        char origin[CLUSTER_ORIGIN_SIZE];
        const char *body = NULL;
        if (status != STORE_OK) continue;
        if (!cluster_signal_split(payload, origin, &body)) {
            log_warn("a signal without an origin was dropped", "kind=%s", kind);
            continue;
        }
        if (strcmp(origin, signals->origin) != 0) dispatch(signals, kind, body);
    }
    return NULL;
}

/* ---- start and stop ---- */

cluster_signals *cluster_signals_start(const char *database_url, const char *data_dir)
{
    cluster_signals *signals = calloc(1, sizeof(*signals));
    if (signals == NULL) return NULL;
    pthread_mutex_init(&signals->lock, NULL);
    unsigned char random[(CLUSTER_ORIGIN_SIZE - 1) / 2];
    randombytes_buf(random, sizeof(random));
    sodium_bin2hex(signals->origin, sizeof(signals->origin), random, sizeof(random));
    if (store_open_url(database_url, data_dir, &signals->listen_db) != STORE_OK ||
        store_open_url(database_url, data_dir, &signals->send_db) != STORE_OK ||
        !store_signals_supported(signals->listen_db) || store_signal_listen(signals->listen_db) != STORE_OK)
        goto fail;
    if (pthread_create(&signals->thread, NULL, listen_main, signals) != 0) goto fail;
    signals->thread_started = true;
    log_info("listening to the other nodes", "origin=%s", signals->origin);
    return signals;
fail:
    log_error("signals between nodes could not start", "data=\"%s\"", data_dir ? data_dir : "");
    cluster_signals_stop(signals);
    return NULL;
}

void cluster_signals_stop(cluster_signals *signals)
{
    if (signals == NULL) return;
    atomic_store(&signals->stopping, true);
    if (signals->thread_started) pthread_join(signals->thread, NULL);
    store_close(signals->listen_db);
    store_close(signals->send_db);
    pthread_mutex_destroy(&signals->lock);
    free(signals);
}
