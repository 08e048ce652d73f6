/* node_lease.c — the node's registration, lease renewals, claims and clean leave (node_lease.h). */
#include "engine/node_lease.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"

struct node_lease {
    node_lease_config config;
    char name[128];
    store *db;
    int64_t epoch;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* stopping, or a claim asked for */
    bool stopping, claim_asked;
    atomic_bool lost;
};

static void apply_defaults(node_lease_config *c)
{
    if (c->lease_ms <= 0) c->lease_ms = 10000;
    /* three renewals per lease at least: one late renewal (a busy machine) must not lose it */
    if (c->renew_interval_ms <= 0) c->renew_interval_ms = c->lease_ms / 3 < 2000 ? c->lease_ms / 3 : 2000;
    if (c->claim_interval_ms <= 0) c->claim_interval_ms = 1000;
    if (c->claim_batch == 0) c->claim_batch = 100;
}

node_lease *node_lease_register(const node_lease_config *config, char *err, size_t err_size)
{
    node_lease *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    l->config = *config;
    apply_defaults(&l->config);
    if (config->name && config->name[0]) {
        snprintf(l->name, sizeof(l->name), "%s", config->name);
    } else {
        char host[64] = "";
        if (gethostname(host, sizeof(host) - 1) != 0) snprintf(host, sizeof(host), "unknown");
        snprintf(l->name, sizeof(l->name), "%s:%ld", host, (long)getpid());
    }
    l->config.name = l->name;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    if (store_open_url(config->database_url, config->data_dir, &l->db) != STORE_OK) {
        snprintf(err, err_size, "the lease keeper could not open the store");
    } else if (store_node_register(l->db, l->name, l->config.lease_ms, &l->epoch) != STORE_OK) {
        snprintf(err, err_size, "this node could not register in the store");
    } else {
        log_info("node registered", "node=\"%s\" epoch=%lld lease_ms=%lld", l->name, (long long)l->epoch,
                 (long long)l->config.lease_ms);
        return l;
    }
    node_lease_free(l, false);
    return NULL;
}

int64_t node_lease_epoch(const node_lease *lease)
{
    return lease->epoch;
}

/* Renews the lease; false when it is lost (reported once). */
static bool renew(node_lease *l)
{
    store_status status = store_node_renew(l->db, l->epoch, l->config.lease_ms);
    if (status == STORE_OK) return true;
    if (status != STORE_CONFLICT) {
        log_warn("the node's lease could not be renewed; retrying", "epoch=%lld", (long long)l->epoch);
        return true;
    }
    atomic_store(&l->lost, true);
    log_error("this node's lease was lost: another node took its tasks over", "epoch=%lld",
              (long long)l->epoch);
    if (l->config.lost) l->config.lost(l->config.context, l->epoch);
    return false;
}

/* Claims batches until one comes back short (or the store fails). Between batches the lease is renewed
 * when due (*next_renew, monotonic ms): taking over a dead node's thousands of tasks must not let this
 * node's own lease run out meanwhile. False when the lease was lost. */
static bool claim_all(node_lease *l, int64_t *next_renew)
{
    size_t total = 0;
    bool kept = true;
    for (;;) {
        task_record *tasks = NULL;
        size_t count = 0;
        if (store_tasks_claim(l->db, l->epoch, l->config.claim_batch, &tasks, &count) != STORE_OK) break;
        for (size_t i = 0; i < count; i++)
            l->config.claimed(l->config.context, &tasks[i]);
        task_records_free(tasks, count);
        total += count;
        if (count < l->config.claim_batch) break;
        int64_t now = clock_monotonic_ms();
        if (now >= *next_renew) {
            *next_renew = now + l->config.renew_interval_ms;
            if (!(kept = renew(l))) break;
        }
    }
    if (total) log_info("claimed tasks", "count=%zu epoch=%lld", total, (long long)l->epoch);
    return kept;
}

static void *lease_main(void *arg)
{
    node_lease *l = arg;
    int64_t next_renew = clock_monotonic_ms() + l->config.renew_interval_ms;
    int64_t next_claim = 0; /* at once */
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        int64_t now = clock_monotonic_ms();
        bool renew_due = now >= next_renew;
        bool claim_due = now >= next_claim || l->claim_asked;
        if (!renew_due && !claim_due) {
            int64_t until = next_renew < next_claim ? next_renew : next_claim;
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            int64_t wait_ms = until - now;
            deadline.tv_sec += (time_t)(wait_ms / 1000);
            deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&l->wake, &l->lock, &deadline);
            continue;
        }
        l->claim_asked = false;
        pthread_mutex_unlock(&l->lock);
        bool kept = true;
        if (renew_due) {
            kept = renew(l);
            next_renew = now + l->config.renew_interval_ms;
        }
        if (kept && claim_due) {
            kept = claim_all(l, &next_renew);
            next_claim = now + l->config.claim_interval_ms;
        }
        pthread_mutex_lock(&l->lock);
        if (!kept) break; /* the node is to stop: nothing more to renew or claim */
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

bool node_lease_run(node_lease *lease)
{
    if (pthread_create(&lease->thread, NULL, lease_main, lease) != 0) return false;
    lease->running = true;
    return true;
}

void node_lease_claim_now(node_lease *lease)
{
    pthread_mutex_lock(&lease->lock);
    lease->claim_asked = true;
    pthread_cond_signal(&lease->wake);
    pthread_mutex_unlock(&lease->lock);
}

void node_lease_stop(node_lease *l)
{
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->lock);
    if (l->running) pthread_join(l->thread, NULL);
    l->running = false;
}

void node_lease_free(node_lease *l, bool hand_back)
{
    if (l == NULL) return;
    node_lease_stop(l);
    if (hand_back && l->epoch > 0 && !atomic_load(&l->lost)) {
        if (store_node_leave(l->db, l->epoch) == STORE_OK)
            log_info("node left; its unfinished tasks were handed back", "epoch=%lld", (long long)l->epoch);
        else
            log_warn("the node could not hand its tasks back; they move when its lease passes", "epoch=%lld",
                     (long long)l->epoch);
    }
    if (l->db) store_close(l->db);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->wake);
    free(l);
}
