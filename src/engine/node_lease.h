/* node_lease.h — this node's place among the nodes sharing a database (store.h "Nodes and their
 * leases"): it registers the node (its epoch fences every engine write), renews the node's lease, claims
 * the tasks nobody live owns — at start, a predecessor's or a dead node's, tasks a stopping node handed
 * back — and hands this node's tasks back when it stops cleanly.
 *
 * One thread with its own store connection, so that renewals never wait behind the engine's work:
 *   - every renew_interval_ms the lease is extended to now + lease_ms; when the store answers that the
 *     lease is lost (another node took this one over: it was paused or cut off past its lease), `lost`
 *     is called once and the thread stops renewing and claiming — the node must stop (the fencing
 *     already refuses every write it would make to a task it no longer owns);
 *   - every claim_interval_ms (and at once when asked) up to claim_batch tasks are claimed, repeatedly
 *     while batches come back full (renewing the lease between them when it is due); each claimed task
 *     is handed to `claimed`.
 * A database that cannot be reached is retried at the same pace; the lease runs out meanwhile, and
 * whether the node goes on afterwards depends on whether another node took it over.
 *
 * Timing, with the defaults: a node that dies is taken over when its lease passes (≤ 10 s) plus one claim
 * interval (1 s), so within 11 s. */
#ifndef REELAY_ENGINE_NODE_LEASE_H
#define REELAY_ENGINE_NODE_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct node_lease node_lease;

/* A claimed task (the record as claimed; the callee copies what it keeps). */
typedef void (*node_lease_claimed_fn)(void *context, const task_record *task);
typedef void (*node_lease_lost_fn)(void *context, int64_t epoch);

typedef struct node_lease_config {
    const char *database_url; /* store_open_url's URL (NULL = SQLite in data_dir) */
    const char *data_dir;
    const char *name;          /* shown to operators; NULL = "<host>:<pid>" */
    int64_t lease_ms;          /* 0 = 10 000 */
    int64_t renew_interval_ms; /* 0 = a third of the lease, at most 2 000 */
    int64_t claim_interval_ms; /* 0 = 1 000 */
    size_t claim_batch;        /* 0 = 100: the lease is renewed between batches when due */
    node_lease_claimed_fn claimed;
    node_lease_lost_fn lost; /* NULL = only logged */
    void *context;
} node_lease_config;

/* Opens the connection and registers the node (its epoch is known on return); the thread starts with
 * node_lease_run. NULL when the store cannot be opened or the node registered (reason in err). */
node_lease *node_lease_register(const node_lease_config *config, char *err, size_t err_size);
/* The node's epoch: give it to every connection that writes tasks for this node (store_set_lease_epoch). */
int64_t node_lease_epoch(const node_lease *lease);
/* Starts the thread: claims at once, then renews and claims on their intervals. False if it cannot start. */
bool node_lease_run(node_lease *lease);
/* Claim soon (a node handed tasks back, or work was announced). Any thread. */
void node_lease_claim_now(node_lease *lease);
/* Stops the thread (no more claims, no more renewals); the lease itself stays until node_lease_free.
 * Idempotent. */
void node_lease_stop(node_lease *lease);
/* Stops the thread if it runs; with hand_back (a clean stop, the lease not lost) the node's unfinished
 * tasks are handed back for other nodes to claim at once and its row removed. Frees the lease (NULL is
 * fine). */
void node_lease_free(node_lease *lease, bool hand_back);

#endif
