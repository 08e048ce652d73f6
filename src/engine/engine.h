/* engine.h — the warm path: runs every accepted task to its end, off the HTTP threads.
 *
 * Tasks are routed by the upstream runner (engine/upstream_runner.h): those on provider channels are
 * submitted, followed and mirrored there; those on the sandbox come back to the render workers.
 *
 * Inside: a FIFO of runnable tasks served by a bounded pool of worker threads (each render is one
 * worker), and a deadline thread holding one timer per unfinished task (no global sweep): a task
 * still unfinished at its deadline fails with code "timeout". Every state change is a compare-and-set
 * in the store, so a task cancelled or timed out while a worker holds it is simply discarded by that
 * worker. On start the engine registers this node and claims every unfinished task that no live node
 * owns (crash recovery; with several nodes, a dead node's tasks too, engine/node_lease.h).
 *
 * Thread safety: engine_submit / engine_cancel / engine_queue_depth may be called from any thread;
 * they only take a short in-memory lock. */
#ifndef REELAY_ENGINE_ENGINE_H
#define REELAY_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "engine/local_inputs.h"
#include "engine/routing.h"
#include "engine/task_changes.h"
#include "engine/task_view.h"
#include "net/fetch.h"
#include "upstream/upstream.h"

typedef struct engine engine;

typedef struct engine_config {
    const char *data_dir;     /* secrets (credentials.key) and, for SQLite, the database live here */
    const char *database_url; /* store_open_url's URL (NULL = SQLite in data_dir); each engine thread opens
                                 its own connection */
    blob_store *blobs;        /* results are written here (thread-safe for distinct names) */
    int render_concurrency;   /* worker threads = renders at once (default 2) */
    bool paused;              /* accept and time tasks, but start none (benchmarks, draining) */
    fetch_policy fetch;       /* the guard and limits for fetching inputs and provider results */
    const char *public_url; /* this server's public base: provider webhooks are sent here; NULL = poll only */
    double poll_scale;      /* multiplies provider poll delays (tests: 0.01); 0 = 1 */
    int64_t submit_timeout_ms; /* an unanswered submit is "submission unknown" after this (0 = 30 s) */
    int64_t
        unknown_grace_ms; /* an unknown submission that cannot be looked up fails after this (0 = 10 min) */
    const char *webhook_keys_url;    /* replaces providers' webhook-key URLs (NULL = each one's own) */
    local_inputs inputs;             /* this server's own file links, read from storage by the sandbox */
    int64_t maintenance_interval_ms; /* expired uploads and results are swept this often (0 = 60 s) */
    int64_t link_ttl_seconds; /* result links live this long after completion; their objects are removed
                                 a margin later (engine/maintenance.h; 0 = kept forever) */
    /* Several nodes (engine/node_lease.h): the engine registers this node in the store, runs only the
     * tasks it owns (those it admitted and those it claims), and hands them back on engine_stop. */
    const char *node_name; /* shown to operators; NULL = "<host>:<pid>" */
    int64_t lease_ms;      /* the node's lease (0 = 10 s): a dead node's tasks move after it passes */
    /* Called (on the lease thread) when another node took this one over — it was paused or cut off past
     * its lease: the process must stop at once (its writes are refused already). NULL = only logged. */
    void (*on_lease_lost)(void *context, int64_t epoch);
    void *lease_lost_context;
} engine_config;

/* Starts the threads and enqueues every unfinished task of the store. NULL on failure (the store cannot
 * be opened or read, a thread cannot start, out of memory), with the reason in err (logged too);
 * whatever had started is stopped again. */
engine *engine_start(const engine_config *config, char *err, size_t err_size);
/* Stops taking work, cancels renders in flight, joins the threads and hands the node's unfinished tasks
 * back (another node, or the next start, claims and resumes them). */
void engine_stop(engine *e);
/* This node's epoch (store.h): the connection that admits tasks for this node is given it
 * (store_set_lease_epoch), so that they are this node's. */
int64_t engine_node_epoch(engine *e);

/* Starts delivering task callbacks (engine/callback_sender.h) — each finished task with a
 * callback_url, from the store's outbox, including those left due by an earlier run. Their bodies show
 * result links made with `links` (copied): the API's own settings, known once the server listens, so
 * this comes after engine_start. True when running (also when already started); engine_stop stops it. */
bool engine_start_callbacks(engine *e, const task_view_links *links);

/* A task was just stored (state pending): schedule it and its deadline (Unix seconds). Also for a task
 * whose admission is in doubt (its COMMIT's answer was lost): the runner reads the task first and lets an
 * absent one go. */
void engine_submit(engine *e, const char *task_id, int64_t deadline_at);
/* A task was just cancelled in the store: stop its render or its flight if this node runs it, and tell
 * the other nodes (the one that owns the task stops it at once). */
void engine_cancel(engine *e, const char *task_id);

typedef struct engine_stats {
    size_t queued;             /* waiting for a worker */
    size_t running;            /* held by a worker */
    size_t timers;             /* deadlines armed */
    size_t upstream_flights;   /* tasks followed on provider channels */
    size_t upstream_transfers; /* provider requests in progress */
    size_t upstream_downloads; /* results being downloaded */
} engine_stats;
void engine_get_stats(engine *e, engine_stats *out);

/* The channels' routing state on this node (circuit breaker, slots in use, throttling: the runner's
 * memory, not the store's; each node has its own) into a malloc'd array (*out, free(); NULL when *count
 * is 0). False when out of memory. */
bool engine_channel_health(engine *e, routing_channel_health **out, size_t *count);
/* A channel was added, changed or removed on this node's database: the runner re-reads its table now
 * instead of within CHANNEL_RELOAD_MS (other nodes learn of it by the "channel" signal). */
void engine_reload_channels(engine *e);

/* Ask the provider for this task's state now (at most once a second per task), on whichever node
 * follows it (the others are told). */
void engine_poll_now(engine *e, const char *task_id);
/* An accepted provider webhook for a channel (verified: its signature checked, else unsigned by design):
 * poll the task it names (task_id) or the job (job_id); either may be NULL; on whichever node follows it
 * (the others are told). The webhook's content is never trusted beyond that: the poll says what is true
 * — or, for a verified one of a provider whose webhooks come once a job ended, the result document this
 * node asks for at once. */
void engine_webhook(engine *e, const char *channel, const char *task_id, const char *job_id, bool verified);
/* The keys `provider` signs its webhooks with (its table's webhook_keys_url), as last fetched, copied
 * into out; false when none yet, the provider publishes none, or they do not fit (see
 * engine/webhook_keys.h). */
bool engine_webhook_keys(engine *e, const upstream_provider *provider, char *out, size_t out_size);
/* Asks for those keys to be fetched again soon (a signature did not verify: they may have rotated). */
void engine_refresh_webhook_keys(engine *e, const upstream_provider *provider);

/* ---- Task changes (engine/task_changes.h): every task write of the engine's threads, every admission
 * (engine_submit) and cancel (engine_cancel) of this process, and the changes other nodes tell of (their
 * "task" signals, on PostgreSQL; this node's are relayed to them the same way). ---- */

/* Calls on_change (on the writing thread, or the listening thread for another node's news: be quick)
 * with the id of each task that may have changed, NULL when any may have (signals missed). False when
 * no room is left (TASK_CHANGES_SUBSCRIBERS_MAX). */
bool engine_follow_tasks(engine *e, task_changes_fn on_change, void *context);
/* Stops those calls: none is in progress or made once this returns. */
void engine_unfollow_tasks(engine *e, task_changes_fn on_change, void *context);

/* ---- Signals between nodes (engine/cluster_signals.h): on PostgreSQL the engine listens to the other
 * nodes sharing the database (one thread, two connections); it acts itself on "poke", "cancel" and
 * "channel" (the runner re-reads its channels). On SQLite there are no other nodes: nothing is sent
 * and nobody is called. ---- */

/* Called (on the listening thread: be quick) for each signal of `kind` from another node or the
 * command line, with body NULL after a lost connection came back (signals may have been missed:
 * re-read). False when the store carries no signals (the caller relies on its periodic re-read alone)
 * or no room is left. Callbacks may run until engine_stop returns. */
typedef void (*engine_signal_fn)(void *context, const char *body);
bool engine_on_signal(engine *e, const char *kind, engine_signal_fn on_signal, void *context);
/* Tells the other nodes (cluster_signals_broadcast); nothing on SQLite. Blocks for one round trip to the
 * database; a failure is logged (the others fall back on their periodic re-reads). */
void engine_broadcast(engine *e, const char *kind, const char *body);

#endif
