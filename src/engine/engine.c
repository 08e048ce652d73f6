/* engine.c — the task runner: a FIFO of runnable task ids served by worker threads, and a deadline
 * thread with a min-heap of per-task timers. All transitions are compare-and-set in the store. */
#include "engine/engine.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/callback_sender.h"
#include "engine/cluster_signals.h"
#include "engine/task_changes.h"
#include "engine/maintenance.h"
#include "engine/node_lease.h"
#include "engine/result_previews.h"
#include "engine/sandbox_runner.h"
#include "engine/upstream_runner.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/min_heap.h"

#define DEADLINE_MESSAGE "The task did not finish before its deadline."

typedef struct task_ref {
    char id[IDS_TASK_ID_SIZE];
    int64_t deadline_at;
    char channel[64]; /* the sandbox channel the runner routed it to */
} task_ref;

/* A task's deadline, armed until it passes (tasks that finish first are found finished then). */
typedef struct deadline_timer {
    min_heap_node node; /* keyed by the deadline, Unix seconds */
    char id[IDS_TASK_ID_SIZE];
} deadline_timer;

typedef struct worker {
    struct engine *engine;
    pthread_t thread;
    store *db;
    char current[IDS_TASK_ID_SIZE]; /* guarded by engine->lock; "" when idle */
    atomic_bool cancel;
} worker;

struct engine {
    engine_config config;
    pthread_mutex_t lock;
    pthread_cond_t work_ready; /* queue not empty, or stopping */
    pthread_cond_t timers_changed;
    bool stopping;

    task_ref *queue; /* ring buffer */
    size_t queue_head, queue_count, queue_capacity;

    min_heap timers; /* of deadline_timer */

    worker *workers;
    int worker_count;
    int workers_started; /* threads running, for a start that fails half-way */
    size_t running;
    pthread_t deadline_thread;
    bool deadline_started;
    store *deadline_db;
    upstream_runner *runner;
    result_previews *previews;  /* providers' results' previews, made after completion (the runner's) */
    callback_sender *callbacks; /* NULL until engine_start_callbacks */
    node_lease *lease;          /* this node's registration: its epoch fences every task write */
    bool lease_lost;            /* never hand tasks back that another node has taken */
    cluster_signals *signals;   /* NULL on SQLite */
    task_changes *changes;      /* who follows task changes (api/task_events.c); relayed to the others */
};

/* ---- queue and heap (engine->lock held) ---- */

static bool queue_push(struct engine *e, const task_ref *ref)
{
    if (e->queue_count == e->queue_capacity) {
        size_t capacity = e->queue_capacity ? e->queue_capacity * 2 : 256;
        task_ref *grown = malloc(capacity * sizeof(*grown));
        if (grown == NULL) return false;
        for (size_t i = 0; i < e->queue_count; i++)
            grown[i] = e->queue[(e->queue_head + i) % e->queue_capacity];
        free(e->queue);
        e->queue = grown, e->queue_capacity = capacity, e->queue_head = 0;
    }
    e->queue[(e->queue_head + e->queue_count) % e->queue_capacity] = *ref;
    e->queue_count++;
    return true;
}

static task_ref queue_pop(struct engine *e)
{
    task_ref ref = e->queue[e->queue_head];
    e->queue_head = (e->queue_head + 1) % e->queue_capacity;
    e->queue_count--;
    return ref;
}

/* Arms a deadline. False when out of memory. */
static bool timer_push(struct engine *e, const char *task_id, int64_t deadline_at)
{
    deadline_timer *timer = calloc(1, sizeof(*timer));
    if (timer == NULL) return false;
    snprintf(timer->id, sizeof(timer->id), "%s", task_id);
    min_heap_node_init(&timer->node);
    if (!min_heap_push(&e->timers, &timer->node, deadline_at)) {
        free(timer);
        return false;
    }
    return true;
}

/* Disarms every deadline (engine_stop, or a start that failed). */
static void timers_free(struct engine *e)
{
    min_heap_node *node;
    while ((node = min_heap_pop(&e->timers)) != NULL)
        free(MIN_HEAP_ENTRY(node, deadline_timer, node));
    min_heap_free(&e->timers);
}

/* Sets the cancel flag of the worker running task_id, if any (engine->lock held). */
static void signal_running_task(struct engine *e, const char *task_id)
{
    for (int i = 0; i < e->worker_count; i++)
        if (strcmp(e->workers[i].current, task_id) == 0) atomic_store(&e->workers[i].cancel, true);
}

/* ---- one task on a worker ---- */

static void log_transition(const char *task_id, const char *to, const char *detail)
{
    log_info("task", "task=%s state=%s%s%s", task_id, to, detail[0] ? " " : "", detail);
}

static void run_task(worker *w, const char *task_id, const char *channel)
{
    struct engine *e = w->engine;
    task_record task;
    memset(&task, 0, sizeof(task));
    if (store_task_get(w->db, task_id, &task) != STORE_OK || task_state_is_terminal(task.state)) goto done;
    int64_t now = clock_unix_seconds();
    if (now >= task.deadline_at) goto done; /* the deadline thread fails it */

    /* The runner routed it here (pending → submitting on a sandbox channel). The sandbox accepts
     * instantly and locally, so submission is never ambiguous; a task found in submitting, processing
     * or finalizing after a crash renders again. */
    if (task.state == TASK_PENDING) {
        if (store_task_transition(w->db, task_id, TASK_PENDING, TASK_SUBMITTING, channel, now) != STORE_OK)
            goto done;
        task.state = TASK_SUBMITTING;
    }
    if (task.state != TASK_PROCESSING) {
        if (store_task_transition(w->db, task_id, task.state, TASK_PROCESSING, NULL, now) != STORE_OK)
            goto done;
        log_transition(task_id, "processing", "");
    }

    sandbox_outcome outcome;
    int result = sandbox_run_task(w->db, e->config.blobs, &e->config.fetch, &e->config.inputs, &task,
                                  &w->cancel, &outcome);
    now = clock_unix_seconds();
    if (result == 0) { /* stored, charged and completed (engine/task_completion.h) */
        log_transition(task_id, "completed", "");
    } else if (result < 0) {
        if (now >= task.deadline_at) { /* the render was cut off by the deadline: that is the reason */
            snprintf(outcome.error_code, sizeof(outcome.error_code), "timeout");
            snprintf(outcome.error_message, sizeof(outcome.error_message), "%s", DEADLINE_MESSAGE);
        }
        if (store_task_fail(w->db, task_id, outcome.error_code, outcome.error_message, now) == STORE_OK) {
            char detail[96];
            snprintf(detail, sizeof(detail), "code=%s", outcome.error_code);
            log_transition(task_id, "failed", detail);
        }
    }
    /* result == 1: cancelled — by the client (already recorded), by the deadline (recorded by the
     * deadline thread) or by engine_stop (left unfinished, resumed on the next start). */
done:
    task_record_clear(&task);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct engine *e = w->engine;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->stopping && (e->queue_count == 0 || e->config.paused))
            pthread_cond_wait(&e->work_ready, &e->lock);
        if (e->stopping) break;
        task_ref ref = queue_pop(e);
        snprintf(w->current, sizeof(w->current), "%s", ref.id);
        atomic_store(&w->cancel, false);
        e->running++;
        pthread_mutex_unlock(&e->lock);
        run_task(w, ref.id, ref.channel);
        pthread_mutex_lock(&e->lock);
        e->running--;
        w->current[0] = '\0';
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Threads making the previews of providers' results after their tasks completed (each runs ffmpeg at a low
 * priority). */
enum { PREVIEW_WORKERS = 2 };

/* ---- deadlines (and, on the same thread, the store's periodic checkpoint) ---- */

enum { CHECKPOINT_INTERVAL_MS = 1000 };

static void *deadline_main(void *arg)
{
    struct engine *e = arg;
    pthread_mutex_lock(&e->lock);
    int64_t next_checkpoint_ms = clock_unix_ms() + CHECKPOINT_INTERVAL_MS;
    int64_t next_maintenance_ms = 0; /* expired uploads: swept at start, then every interval */
    while (!e->stopping) {
        int64_t now_ms = clock_unix_ms();
        if (now_ms >= next_checkpoint_ms) {
            pthread_mutex_unlock(&e->lock);
            store_checkpoint(e->deadline_db);
            maintenance_run_if_due(e->deadline_db, e->config.blobs, now_ms, e->config.maintenance_interval_ms,
                                   e->config.link_ttl_seconds, &next_maintenance_ms);
            pthread_mutex_lock(&e->lock);
            next_checkpoint_ms = now_ms + CHECKPOINT_INTERVAL_MS;
            continue;
        }
        min_heap_node *earliest = min_heap_peek(&e->timers);
        int64_t due_ms = earliest != NULL ? earliest->key * 1000 : INT64_MAX;
        if (due_ms > next_checkpoint_ms) due_ms = next_checkpoint_ms;
        if (due_ms > now_ms) {
            struct timespec until = {.tv_sec = (time_t)(due_ms / 1000),
                                     .tv_nsec = (long)(due_ms % 1000) * 1000000L};
            pthread_cond_timedwait(&e->timers_changed, &e->lock,
                                   &until); /* CLOCK_REALTIME, as deadlines are */
            continue;
        }
        deadline_timer *expired = MIN_HEAP_ENTRY(min_heap_pop(&e->timers), deadline_timer, node);
        pthread_mutex_unlock(&e->lock);
        char message[160];
        snprintf(message, sizeof(message), "The task did not finish before its deadline.");
        int64_t now = clock_unix_seconds();
        bool failed = store_task_fail(e->deadline_db, expired->id, "timeout", message, now) == STORE_OK;
        pthread_mutex_lock(&e->lock);
        if (failed) {
            signal_running_task(e, expired->id);
            log_transition(expired->id, "failed", "code=timeout");
            if (e->runner) runner_cancel(e->runner, expired->id);
        }
        free(expired);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* ---- public ---- */

void engine_submit(engine *e, const char *task_id, int64_t deadline_at)
{
    pthread_mutex_lock(&e->lock);
    /* Wake the deadline thread only when this deadline comes before every armed one: each needless
     * wake-up is a context switch on the request path. */
    min_heap_node *first = min_heap_peek(&e->timers);
    bool earliest = first == NULL || deadline_at < first->key;
    bool timed = timer_push(e, task_id, deadline_at);
    if (earliest) pthread_cond_signal(&e->timers_changed);
    pthread_mutex_unlock(&e->lock);
    if (!timed) log_error("engine out of memory; the task resumes on the next start", "task=%s", task_id);
    if (!e->config.paused) runner_add(e->runner, task_id);
}

/* The runner routed a task to a sandbox channel: queue it for a render worker. */
static void enqueue_for_sandbox(void *context, const char *task_id, const char *channel, int64_t deadline_at)
{
    struct engine *e = context;
    task_ref ref;
    memset(&ref, 0, sizeof(ref));
    snprintf(ref.id, sizeof(ref.id), "%s", task_id);
    snprintf(ref.channel, sizeof(ref.channel), "%s", channel);
    ref.deadline_at = deadline_at;
    pthread_mutex_lock(&e->lock);
    bool queued = queue_push(e, &ref);
    if (e->running < (size_t)e->worker_count) pthread_cond_signal(&e->work_ready);
    pthread_mutex_unlock(&e->lock);
    if (!queued) log_error("engine out of memory; the task resumes on the next start", "task=%s", task_id);
}

void engine_poll_now(engine *e, const char *task_id)
{
    runner_poll_now(e->runner, task_id); /* nothing when this node does not follow it */
    char body[CLUSTER_SIGNAL_BODY_MAX + 1];
    snprintf(body, sizeof(body), "task %s", task_id);
    engine_broadcast(e, CLUSTER_SIGNAL_POKE, body);
}

void engine_webhook(engine *e, const char *channel, const char *task_id, const char *job_id, bool verified)
{
    if (task_id != NULL && task_id[0] && verified) {
        runner_webhook_verified(e->runner, task_id); /* nothing when this node does not follow it */
        char body[CLUSTER_SIGNAL_BODY_MAX + 1];
        snprintf(body, sizeof(body), "task %s", task_id);
        engine_broadcast(e, CLUSTER_SIGNAL_POKE, body); /* the node that follows it polls */
    } else if (task_id != NULL && task_id[0]) {
        engine_poll_now(e, task_id);
    } else if (job_id != NULL && job_id[0]) {
        runner_poll_job(e->runner, channel, job_id);
        char body[CLUSTER_SIGNAL_BODY_MAX + 1];
        int length = snprintf(body, sizeof(body), "job %s %s", channel, job_id);
        if (length > 0 && (size_t)length < sizeof(body)) engine_broadcast(e, CLUSTER_SIGNAL_POKE, body);
    }
}

bool engine_webhook_keys(engine *e, const upstream_provider *provider, char *out, size_t out_size)
{
    return runner_webhook_keys(e->runner, provider, out, out_size);
}

void engine_refresh_webhook_keys(engine *e, const upstream_provider *provider)
{
    runner_refresh_webhook_keys(e->runner, provider);
}

/* Stops the task's render or flight, if this node runs it. */
static void cancel_here(struct engine *e, const char *task_id)
{
    pthread_mutex_lock(&e->lock);
    signal_running_task(e, task_id);
    pthread_mutex_unlock(&e->lock);
    runner_cancel(e->runner, task_id);
}

void engine_cancel(engine *e, const char *task_id)
{
    task_changes_publish(e->changes, task_id);
    cancel_here(e, task_id);
    engine_broadcast(e, CLUSTER_SIGNAL_CANCEL, task_id);
}

/* ---- task changes (engine/task_changes.h) ---- */

/* The observer of every store connection of the engine: a write of the task succeeded. */
static void task_written(void *context, const char *task_id)
{
    task_changes_publish(((struct engine *)context)->changes, task_id);
}

bool engine_follow_tasks(engine *e, task_changes_fn on_change, void *context)
{
    return task_changes_subscribe(e->changes, on_change, context);
}

void engine_unfollow_tasks(engine *e, task_changes_fn on_change, void *context)
{
    task_changes_unsubscribe(e->changes, on_change, context);
}

static void relay_task_changes(void *context, const char *body)
{
    engine_broadcast(context, CLUSTER_SIGNAL_TASK, body);
}

static void on_one_task_signal(void *context, const char *task_id)
{
    task_changes_publish_local(context, task_id);
}

/* Task ids another node changed, or NULL (signals missed: any task may have changed). */
static void on_task_signal(void *context, const char *body)
{
    struct engine *e = context;
    if (body == NULL)
        task_changes_publish_local(e->changes, NULL);
    else
        task_changes_each_id(body, on_one_task_signal, e->changes);
}

/* ---- signals from the other nodes ---- */

bool engine_on_signal(engine *e, const char *kind, engine_signal_fn on_signal, void *context)
{
    return e->signals != NULL && cluster_signals_subscribe(e->signals, kind, on_signal, context);
}

void engine_broadcast(engine *e, const char *kind, const char *body)
{
    if (e->signals != NULL) cluster_signals_broadcast(e->signals, kind, body);
}

/* "task <id>" or "job <channel> <job id>" (the job id is the rest: it may hold spaces). A missed poke
 * needs nothing: every flight polls on its own schedule anyway. */
static void on_poke(void *context, const char *body)
{
    struct engine *e = context;
    if (body == NULL) return;
    if (strncmp(body, "task ", 5) == 0 && ids_task_is_valid(body + 5)) {
        runner_poll_now(e->runner, body + 5);
    } else if (strncmp(body, "job ", 4) == 0) {
        char channel[64];
        size_t length = strcspn(body + 4, " ");
        if (length == 0 || length >= sizeof(channel) || body[4 + length] != ' ') return;
        memcpy(channel, body + 4, length);
        channel[length] = '\0';
        if (body[5 + length] != '\0') runner_poll_job(e->runner, channel, body + 5 + length);
    }
}

/* A missed cancel is found by the owner at its next step: its compare-and-set fails. */
static void on_cancel(void *context, const char *body)
{
    if (body != NULL && ids_task_is_valid(body)) cancel_here(context, body);
}

static void on_channel(void *context, const char *body)
{
    (void)body; /* a missed change too: one small query */
    runner_reload_channels(((struct engine *)context)->runner);
}

/* On a store that carries signals, listens to the other nodes and acts on what concerns the engine. */
static bool start_signals(struct engine *e, char *err, size_t err_size)
{
    if (!store_signals_supported(e->deadline_db)) return true;
    e->signals = cluster_signals_start(e->config.database_url, e->config.data_dir);
    if (e->signals == NULL || !cluster_signals_subscribe(e->signals, CLUSTER_SIGNAL_POKE, on_poke, e) ||
        !cluster_signals_subscribe(e->signals, CLUSTER_SIGNAL_CANCEL, on_cancel, e) ||
        !cluster_signals_subscribe(e->signals, CLUSTER_SIGNAL_CHANNEL, on_channel, e) ||
        !cluster_signals_subscribe(e->signals, CLUSTER_SIGNAL_TASK, on_task_signal, e) ||
        !task_changes_start_relay(e->changes, relay_task_changes, e, CLUSTER_SIGNAL_BODY_MAX)) {
        snprintf(err, err_size, "signals between nodes could not start");
        return false;
    }
    return true;
}

bool engine_start_callbacks(engine *e, const task_view_links *links)
{
    if (e->callbacks != NULL) return true;
    callback_sender_config settings = {.data_dir = e->config.data_dir,
                                       .database_url = e->config.database_url,
                                       .links = *links,
                                       .fetch = e->config.fetch};
    e->callbacks = callback_sender_start(&settings);
    return e->callbacks != NULL;
}

void engine_get_stats(engine *e, engine_stats *out)
{
    pthread_mutex_lock(&e->lock);
    out->queued = e->queue_count;
    out->running = e->running;
    out->timers = min_heap_count(&e->timers);
    pthread_mutex_unlock(&e->lock);
    runner_stats stats;
    runner_get_stats(e->runner, &stats);
    out->upstream_flights = stats.flights;
    out->upstream_transfers = stats.transfers;
    out->upstream_downloads = stats.downloads;
}

bool engine_channel_health(engine *e, routing_channel_health **out, size_t *count)
{
    return runner_channel_health(e->runner, out, count);
}

void engine_reload_channels(engine *e)
{
    runner_reload_channels(e->runner);
}

/* Stops and frees whatever engine_start got running: threads that started are joined, in the order
 * engine_stop needs (workers, deadline thread, callbacks, runner). */
static void engine_teardown(struct engine *e)
{
    if (e->lease) node_lease_stop(e->lease);             /* no more claims into an engine that is stopping */
    if (e->changes) task_changes_stop_relay(e->changes); /* it broadcasts through the signals */
    cluster_signals_stop(e->signals); /* first: its callbacks use the runner and the workers */
    e->signals = NULL;
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    for (int i = 0; i < e->worker_count; i++)
        if (e->workers[i].current[0]) atomic_store(&e->workers[i].cancel, true);
    pthread_cond_broadcast(&e->work_ready);
    pthread_cond_broadcast(&e->timers_changed);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->workers_started; i++)
        pthread_join(e->workers[i].thread, NULL);
    for (int i = 0; e->workers != NULL && i < e->worker_count; i++)
        if (e->workers[i].db) store_close(e->workers[i].db);
    /* the deadline thread may call the runner: stop it first */
    if (e->deadline_started) pthread_join(e->deadline_thread, NULL);
    if (e->callbacks) callback_sender_stop(e->callbacks);
    if (e->runner) runner_stop(e->runner); /* it may still queue sandbox tasks: free the queue after it */
    result_previews_stop(e->previews);     /* after the runner: its finishing threads queue previews */
    if (e->deadline_db) store_close(e->deadline_db);
    /* every thread that wrote for this node has stopped: its unfinished tasks go back to the pool (the
     * fencing would refuse a late write anyway) — unless another node took them over already */
    node_lease_free(e->lease, !e->lease_lost);
    task_changes_destroy(e->changes); /* every thread that published has stopped */
    free(e->workers);
    free(e->queue);
    timers_free(e);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->work_ready);
    pthread_cond_destroy(&e->timers_changed);
    free(e);
}

/* The render workers: each with its own store connection. */
static bool start_workers(struct engine *e, char *err, size_t err_size)
{
    e->worker_count = e->config.render_concurrency;
    e->workers = calloc((size_t)e->worker_count, sizeof(worker));
    if (e->workers == NULL) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (int i = 0; i < e->worker_count; i++) {
        e->workers[i].engine = e;
        if (store_open_url(e->config.database_url, e->config.data_dir, &e->workers[i].db) != STORE_OK) {
            snprintf(err, err_size, "a render worker could not open the store");
            return false;
        }
        store_set_lease_epoch(e->workers[i].db, node_lease_epoch(e->lease));
        store_observe_tasks(e->workers[i].db, task_written, e);
    }
    for (; e->workers_started < e->worker_count; e->workers_started++)
        if (pthread_create(&e->workers[e->workers_started].thread, NULL, worker_main,
                           &e->workers[e->workers_started]) != 0) {
            snprintf(err, err_size, "a render worker thread could not start");
            return false;
        }
    return true;
}

/* A task this node just claimed (at start: its predecessor's; later: a dead node's, or one handed back)
 * resumes where its record says, with its deadline armed. */
static void resume_claimed(void *context, const task_record *task)
{
    engine_submit(context, task->id, task->deadline_at);
}

static void lease_lost(void *context, int64_t epoch)
{
    struct engine *e = context;
    pthread_mutex_lock(&e->lock);
    e->lease_lost = true;
    pthread_mutex_unlock(&e->lock);
    if (e->config.on_lease_lost) e->config.on_lease_lost(e->config.lease_lost_context, epoch);
}

/* Registers the node (its epoch is needed by every connection that writes tasks). */
static bool register_node(struct engine *e, char *err, size_t err_size)
{
    node_lease_config lease = {.database_url = e->config.database_url,
                               .data_dir = e->config.data_dir,
                               .name = e->config.node_name,
                               .lease_ms = e->config.lease_ms,
                               .claimed = resume_claimed,
                               .lost = lease_lost,
                               .context = e};
    e->lease = node_lease_register(&lease, err, err_size);
    if (e->lease == NULL) return false;
    store_set_lease_epoch(e->deadline_db, node_lease_epoch(e->lease));
    return true;
}

engine *engine_start(const engine_config *config, char *err, size_t err_size)
{
    snprintf(err, err_size, "out of memory");
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    e->config = *config;
    if (e->config.render_concurrency <= 0) e->config.render_concurrency = 2;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->work_ready, NULL);
    pthread_cond_init(&e->timers_changed, NULL);
    min_heap_init(&e->timers);
    if ((e->changes = task_changes_create()) == NULL) goto fail;
    if (store_open_url(config->database_url, config->data_dir, &e->deadline_db) != STORE_OK) {
        snprintf(err, err_size, "the store could not be opened");
        goto fail;
    }
    store_observe_tasks(e->deadline_db, task_written, e);
    result_previews_config previews = {.database_url = config->database_url,
                                       .data_dir = config->data_dir,
                                       .workers = PREVIEW_WORKERS,
                                       .task_observer = task_written,
                                       .task_observer_context = e};
    if ((e->previews = result_previews_start(&previews, config->blobs)) == NULL) {
        snprintf(err, err_size, "the previews' threads could not start");
        goto fail;
    }
    if (!register_node(e, err, err_size) || !start_workers(e, err, err_size)) goto fail;
    runner_config runner_settings = {.data_dir = config->data_dir,
                                     .database_url = config->database_url,
                                     .lease_epoch = node_lease_epoch(e->lease),
                                     .blobs = config->blobs,
                                     .fetch = config->fetch,
                                     .webhook_base = config->public_url,
                                     .poll_scale = config->poll_scale,
                                     .submit_timeout_ms = config->submit_timeout_ms,
                                     .unknown_grace_ms = config->unknown_grace_ms,
                                     .webhook_keys_url = config->webhook_keys_url,
                                     .previews = e->previews,
                                     .to_sandbox = enqueue_for_sandbox,
                                     .sandbox_context = e,
                                     .task_observer = task_written,
                                     .task_observer_context = e};
    e->runner = runner_start(&runner_settings);
    if (e->runner == NULL) {
        snprintf(err, err_size, "the upstream runner could not start");
        goto fail;
    }
    if (!start_signals(e, err, err_size)) goto fail;
    if (pthread_create(&e->deadline_thread, NULL, deadline_main, e) != 0) {
        snprintf(err, err_size, "the deadline thread could not start");
        goto fail;
    }
    e->deadline_started = true;
    if (!node_lease_run(e->lease)) { /* claims every task nobody live owns, then keeps the lease */
        snprintf(err, err_size, "the lease thread could not start");
        goto fail;
    }
    err[0] = '\0';
    return e;

fail:
    log_error("the engine could not start", "data=\"%s\" reason=\"%s\"", config->data_dir, err);
    engine_teardown(e);
    return NULL;
}

int64_t engine_node_epoch(engine *e)
{
    return node_lease_epoch(e->lease);
}

void engine_stop(engine *e)
{
    engine_teardown(e);
}
