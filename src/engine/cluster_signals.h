/* cluster_signals.h — signals between the nodes that share one PostgreSQL database (store.h's "Signals
 * between nodes"): a key revoked, a channel changed, a task to poll or cancel now. One thread with its
 * own connection listens and hands each signal to the callbacks subscribed to its kind; broadcasting
 * goes through a second connection of its own. When the listening connection is lost, the thread
 * reconnects with back-off (100 ms doubling to 5 s) and then calls every subscriber with a NULL body:
 * signals may have been missed meanwhile, so each re-reads what it caches (its periodic re-read stays
 * the fallback for a missed signal in any case).
 *
 * On the wire a signal's payload is "<origin> <body>": origin names the node that sent it (16 hex
 * digits, fresh for each start) or "-" for no node (the command line). A node never hears its own
 * broadcasts: whoever broadcasts has already acted on its own node.
 *
 * Thread safety: every function may be called from any thread. Callbacks run on the listening thread,
 * one at a time: they must be quick (hand work to their own thread) and never call
 * cluster_signals_stop. */
#ifndef REELAY_ENGINE_CLUSTER_SIGNALS_H
#define REELAY_ENGINE_CLUSTER_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* The kinds of signal, and their bodies:
 *   key      a key revoked or its limits changed: the key's id;
 *   channel  a channel added, changed, enabled, disabled or removed: its name;
 *   poke     poll a task now: "task <task id>" or "job <channel> <job id>";
 *   cancel   a task was cancelled, its owner stops it: the task's id;
 *   task     tasks changed on the sending node (live event streams, engine/task_changes.h): their ids,
 *            separated by single spaces, as many as fit. */
#define CLUSTER_SIGNAL_KEY "key"
#define CLUSTER_SIGNAL_CHANNEL "channel"
#define CLUSTER_SIGNAL_POKE "poke"
#define CLUSTER_SIGNAL_CANCEL "cancel"
#define CLUSTER_SIGNAL_TASK "task"

enum {
    CLUSTER_ORIGIN_SIZE = 17,                                                 /* 16 hex digits and NUL */
    CLUSTER_SIGNAL_BODY_MAX = STORE_SIGNAL_PAYLOAD_MAX - CLUSTER_ORIGIN_SIZE, /* bytes of a body */
    CLUSTER_SUBSCRIBERS_MAX = 16
};

typedef struct cluster_signals cluster_signals;

/* A subscriber's callback: body is the signal's body (valid during the call), or NULL when signals may
 * have been missed (after a reconnect). */
typedef void (*cluster_signal_fn)(void *context, const char *body);

/* Opens the two connections to the PostgreSQL database of database_url, listens and starts the
 * thread. NULL (logged) when the database cannot be reached, does not carry signals (SQLite) or a
 * thread cannot start. Stop with cluster_signals_stop. */
cluster_signals *cluster_signals_start(const char *database_url, const char *data_dir);
/* Stops the thread (within about 250 ms, or once a reconnection attempt in progress ends) and closes
 * the connections. No callback runs after it returns. NULL is fine. */
void cluster_signals_stop(cluster_signals *signals);

/* Calls on_signal for every signal of `kind` from another node (and with NULL after a reconnect).
 * False when CLUSTER_SUBSCRIBERS_MAX are subscribed already. */
bool cluster_signals_subscribe(cluster_signals *signals, const char *kind, cluster_signal_fn on_signal,
                               void *context);
/* Sends a signal from this node to every other node. OK, or ERROR (logged): the body is outside the
 * limits (printable ASCII, CLUSTER_SIGNAL_BODY_MAX bytes) or the database cannot be reached. Blocks
 * for one round trip to the database. */
store_status cluster_signals_broadcast(cluster_signals *signals, const char *kind, const char *body);
/* The same from no node, on the caller's connection (the command line): every node hears it. OK also
 * on SQLite, where there is no other node to tell. */
store_status cluster_signal_publish(store *db, const char *kind, const char *body);

/* The wire format (pure; tested on its own). compose writes "<origin> <body>" into out: false when it
 * does not fit or origin is not 16 lowercase hex digits or "-". split finds the origin and the body
 * of a payload: false for a payload not made by compose. */
bool cluster_signal_compose(const char *origin, const char *body, char *out, size_t out_size);
bool cluster_signal_split(const char *payload, char origin[CLUSTER_ORIGIN_SIZE], const char **body);

#endif
