/* rate_limit_exchange.c — the thread that shares this node's per-key request counts with the other
 * nodes through the database (rate_limit.h "Across nodes"). One thread per process, on its own
 * connection; it sleeps on a condition variable between rounds, so a stop is answered at once. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/rate_limit.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct exchange_thread {
    store *db;
    int64_t epoch;
    int interval_ms;
    rate_count *buffer; /* RATE_LIMIT_MAX_KEYS entries */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool started;
    bool stopping; /* under lock */
} exchange_thread;

static exchange_thread exchange = {.lock = PTHREAD_MUTEX_INITIALIZER};

store_status rate_limit_exchange_once(store *db, int64_t epoch, int64_t now_ms, rate_count *buffer,
                                      size_t capacity)
{
    int64_t window = now_ms / 60000;
    size_t own_count = rate_limit_collect(window, buffer, capacity);
    rate_count *others = NULL;
    size_t others_count = 0;
    store_status status =
        store_rate_counts_exchange(db, epoch, window, buffer, own_count, &others, &others_count);
    if (status != STORE_OK) return status;
    rate_limit_mark_sent(window, buffer, own_count);
    rate_limit_apply_others(window, others, others_count);
    free(others);
    return STORE_OK;
}

/* True when the database is one that several nodes share (PostgreSQL). */
static bool is_shared_database(const char *database_url)
{
    return database_url &&
           (strncmp(database_url, "postgres://", 11) == 0 || strncmp(database_url, "postgresql://", 13) == 0);
}

/* Waits until `deadline` (CLOCK_MONOTONIC) or a stop; true when stopping. */
static bool wait_until(const struct timespec *deadline)
{
    pthread_mutex_lock(&exchange.lock);
    int waited = 0;
    while (!exchange.stopping && waited != ETIMEDOUT)
        waited = pthread_cond_timedwait(&exchange.wake, &exchange.lock, deadline);
    bool stopping = exchange.stopping;
    pthread_mutex_unlock(&exchange.lock);
    return stopping;
}

static void *exchange_main(void *arg)
{
    (void)arg;
    bool failing = false;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        store_status status = rate_limit_exchange_once(exchange.db, exchange.epoch, clock_unix_ms(),
                                                       exchange.buffer, RATE_LIMIT_MAX_KEYS);
        /* the store logged the error; say once that the limit runs on stale counts, and when it ends */
        if (status != STORE_OK && !failing)
            log_warn("rate limit: cannot exchange counts with the other nodes; limiting with the last known",
                     "epoch=%lld", (long long)exchange.epoch);
        else if (status == STORE_OK && failing)
            log_info("rate limit: exchanging counts with the other nodes again", "epoch=%lld",
                     (long long)exchange.epoch);
        failing = status != STORE_OK;
        int64_t nanos = next.tv_nsec + (int64_t)exchange.interval_ms * 1000000;
        next.tv_sec += (time_t)(nanos / 1000000000);
        next.tv_nsec = (long)(nanos % 1000000000);
        if (wait_until(&next)) break;
    }
    return NULL;
}

bool rate_limit_start_exchange(const char *database_url, const char *data_dir, int64_t epoch, int interval_ms)
{
    if (!is_shared_database(database_url)) return true; /* one node: its own counts are the whole story */
    if (exchange.started || interval_ms <= 0) {
        log_error("rate limit: the exchange is already running or its interval is not positive",
                  "interval_ms=%d", interval_ms);
        return false;
    }
    exchange.buffer = calloc(RATE_LIMIT_MAX_KEYS, sizeof(*exchange.buffer));
    if (exchange.buffer == NULL || store_open_url(database_url, data_dir, &exchange.db) != STORE_OK) {
        log_error("rate limit: cannot open the database to share counts with the other nodes", "epoch=%lld",
                  (long long)epoch);
        free(exchange.buffer);
        exchange.buffer = NULL;
        return false;
    }
    exchange.epoch = epoch;
    exchange.interval_ms = interval_ms;
    exchange.stopping = false;
    pthread_condattr_t attributes;
    bool made = false;
    if (pthread_condattr_init(&attributes) == 0) {
        made = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) == 0 &&
               pthread_cond_init(&exchange.wake, &attributes) == 0;
        pthread_condattr_destroy(&attributes);
    }
    if (made && pthread_create(&exchange.thread, NULL, exchange_main, NULL) != 0) {
        pthread_cond_destroy(&exchange.wake);
        made = false;
    }
    if (!made) {
        log_error("rate limit: cannot start the exchange thread", "epoch=%lld", (long long)epoch);
        store_close(exchange.db);
        exchange.db = NULL;
        free(exchange.buffer);
        exchange.buffer = NULL;
        return false;
    }
    exchange.started = true;
    return true;
}

void rate_limit_stop_exchange(void)
{
    if (!exchange.started) return;
    pthread_mutex_lock(&exchange.lock);
    exchange.stopping = true;
    pthread_cond_signal(&exchange.wake);
    pthread_mutex_unlock(&exchange.lock);
    pthread_join(exchange.thread, NULL);
    pthread_cond_destroy(&exchange.wake);
    store_close(exchange.db);
    exchange.db = NULL;
    free(exchange.buffer);
    exchange.buffer = NULL;
    exchange.started = false;
}
