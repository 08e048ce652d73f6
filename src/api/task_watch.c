/* task_watch.c — per-thread watchers of tasks, their mailbox from the engine's hub and their tick (see
 * task_watch.h). */
#include "api/task_watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

/* A thread's mailbox keeps at most this many distinct ids between two wake-ups; beyond, it notes that
 * anything may have changed (every watcher re-reads at the next tick). */
enum { MAILBOX_IDS_MAX = 4096 };

/* One HTTP thread's watch state. The first part is the loop thread's alone; the mailbox is shared with
 * the hub's publishers under the board's lock. */
typedef struct task_watch_thread {
    api_thread *thread;
    h2o_context_t *context;
    str_map by_task;            /* task id → first watcher of it (the key is that watcher's task_id) */
    task_watcher *key_watchers; /* the watchers of every task of a key */
    task_watcher *all;          /* every watcher */
    h2o_timeout_t tick_timeout; /* TASK_WATCH_TICK_MS */
    h2o_timeout_entry_t tick;
    h2o_multithread_receiver_t receiver;
    bool started;

    /* under board->lock */
    struct task_watch_thread *board_next;
    h2o_multithread_message_t wake;
    bool wake_sent, anything_changed;
    str_map inbox; /* id → the same malloc'd id */
    atomic_bool has_watchers;
} task_watch_thread;

struct task_watch_board {
    pthread_mutex_t lock;
    task_watch_thread *threads;
};

int64_t task_watch_mark(const task_record *task)
{
    int64_t rank = task_state_is_terminal(task->state)                               ? 2
                   : (task->state == TASK_PENDING || task->state == TASK_SUBMITTING) ? 0
                                                                                     : 1;
    return rank * 1000 + task->progress;
}

static void free_ids(str_map *ids)
{
    size_t cursor = 0;
    void *id;
    while (str_map_next(ids, &cursor, NULL, &id))
        free(id);
    str_map_free(ids);
    str_map_init(ids);
}

/* ---- the hub's side (any thread) ---- */

static void task_changed(void *context, const char *task_id)
{
    task_watch_board *board = context;
    pthread_mutex_lock(&board->lock);
    for (task_watch_thread *t = board->threads; t != NULL; t = t->board_next) {
        if (!atomic_load(&t->has_watchers)) continue;
        if (task_id == NULL || str_map_count(&t->inbox) >= MAILBOX_IDS_MAX) {
            t->anything_changed = true;
        } else if (str_map_get(&t->inbox, task_id) == NULL) {
            char *copy = strdup(task_id);
            if (copy == NULL || !str_map_put(&t->inbox, copy, copy)) {
                free(copy);
                t->anything_changed = true;
            }
        }
        if (!t->wake_sent) {
            t->wake_sent = true;
            h2o_multithread_send_message(&t->receiver, &t->wake);
        }
    }
    pthread_mutex_unlock(&board->lock);
}

task_watch_board *task_watch_board_start(engine *e)
{
    task_watch_board *board = calloc(1, sizeof(*board));
    if (board == NULL) return NULL;
    pthread_mutex_init(&board->lock, NULL);
    if (!engine_follow_tasks(e, task_changed, board)) {
        log_warn("live task events rely on their periodic re-reads alone", "reason=\"no room\"");
        pthread_mutex_destroy(&board->lock);
        free(board);
        return NULL;
    }
    return board;
}

/* ---- the loop thread's side ---- */

/* Hands the task (just read) to the watchers of its id and of its key. */
static void deliver(task_watch_thread *t, const task_record *task)
{
    task_watcher *w = str_map_get(&t->by_task, task->id);
    while (w != NULL) {
        task_watcher *next = w->next; /* the watcher may leave */
        w->ops->on_task(w, task);
        w = next;
    }
    for (w = t->key_watchers; w != NULL;) {
        task_watcher *next = w->next;
        if (strcmp(w->key_id, task->key_id) == 0) w->ops->on_task(w, task);
        w = next;
    }
}

static void deliver_id(task_watch_thread *t, const char *task_id)
{
    if (str_map_get(&t->by_task, task_id) == NULL && t->key_watchers == NULL) return;
    task_record task;
    if (store_task_get(t->thread->db, task_id, &task) != STORE_OK) return; /* the fallback retries */
    deliver(t, &task);
    task_record_clear(&task);
}

/* Every watcher re-reads at its next tick. */
static void everything_changed(task_watch_thread *t);

static void on_mail(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    task_watch_thread *t = H2O_STRUCT_FROM_MEMBER(task_watch_thread, receiver, receiver);
    task_watch_board *board = t->thread->app->task_board;
    while (!h2o_linklist_is_empty(messages)) /* only our one wake message */
        h2o_linklist_unlink(messages->next);
    pthread_mutex_lock(&board->lock);
    str_map ids = t->inbox;
    str_map_init(&t->inbox);
    bool anything = t->anything_changed;
    t->anything_changed = false, t->wake_sent = false;
    pthread_mutex_unlock(&board->lock);
    size_t cursor = 0;
    void *id;
    while (str_map_next(&ids, &cursor, NULL, &id))
        deliver_id(t, id);
    free_ids(&ids);
    if (anything) everything_changed(t);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    task_watch_thread *t = H2O_STRUCT_FROM_MEMBER(task_watch_thread, tick, entry);
    int64_t now = clock_monotonic_ms();
    for (task_watcher *w = t->all; w != NULL;) {
        task_watcher *next = w->all_next;
        w->ops->on_tick(w, now);
        w = next;
    }
    if (t->all != NULL) h2o_timeout_link(t->context->loop, &t->tick_timeout, &t->tick);
}

static void everything_changed(task_watch_thread *t)
{
    for (task_watcher *w = t->all; w != NULL;) {
        task_watcher *next = w->all_next;
        w->ops->on_tick(w, INT64_MAX); /* INT64_MAX: past every fallback interval */
        w = next;
    }
}

static bool thread_start(api_thread *thread, h2o_context_t *context)
{
    task_watch_thread *t = calloc(1, sizeof(*t));
    if (t == NULL) return false;
    t->thread = thread;
    t->context = context;
    str_map_init(&t->by_task);
    str_map_init(&t->inbox);
    h2o_timeout_init(context->loop, &t->tick_timeout, TASK_WATCH_TICK_MS);
    t->tick.cb = on_tick;
    task_watch_board *board = thread->app->task_board;
    if (board != NULL) {
        h2o_multithread_register_receiver(context->queue, &t->receiver, on_mail);
        pthread_mutex_lock(&board->lock);
        t->board_next = board->threads;
        board->threads = t;
        pthread_mutex_unlock(&board->lock);
    }
    t->started = true;
    thread->watch = t;
    return true;
}

bool task_watch_add(task_watcher *w, h2o_context_t *context)
{
    api_thread *thread = w->thread;
    if (thread->watch == NULL && !thread_start(thread, context)) return false;
    task_watch_thread *t = thread->watch;
    w->prev = NULL;
    if (w->kind == WATCH_KEY_STREAM) {
        w->next = t->key_watchers;
        if (w->next) w->next->prev = w;
        t->key_watchers = w;
    } else {
        task_watcher *first = str_map_get(&t->by_task, w->task_id);
        if (!str_map_put(&t->by_task, w->task_id, w)) return false;
        w->next = first;
        if (first) first->prev = w;
    }
    w->all_prev = NULL;
    w->all_next = t->all;
    if (t->all) t->all->all_prev = w;
    t->all = w;
    w->watching = true;
    atomic_store(&t->has_watchers, true);
    if (!h2o_timeout_is_linked(&t->tick)) h2o_timeout_link(context->loop, &t->tick_timeout, &t->tick);
    return true;
}

void task_watch_remove(task_watcher *w)
{
    if (!w->watching) return;
    task_watch_thread *t = w->thread->watch;
    w->watching = false;
    if (w->prev) {
        w->prev->next = w->next;
    } else if (w->kind == WATCH_KEY_STREAM) {
        t->key_watchers = w->next;
    } else if (w->next) {
        str_map_put(&t->by_task, w->next->task_id, w->next); /* replaces: never grows the map */
    } else {
        str_map_remove(&t->by_task, w->task_id);
    }
    if (w->next) w->next->prev = w->prev;
    if (w->all_prev)
        w->all_prev->all_next = w->all_next;
    else
        t->all = w->all_next;
    if (w->all_next) w->all_next->all_prev = w->all_prev;
    w->prev = w->next = w->all_prev = w->all_next = NULL;
    if (t->all == NULL) {
        atomic_store(&t->has_watchers, false);
        if (h2o_timeout_is_linked(&t->tick)) h2o_timeout_unlink(&t->tick);
    }
}

void task_watch_thread_stop(api_thread *thread, void (*on_stop)(task_watcher *watcher))
{
    task_watch_thread *t = thread->watch;
    if (t == NULL || !t->started) return;
    while (t->all != NULL) {
        task_watcher *w = t->all;
        on_stop(w);
        task_watch_remove(w); /* in case on_stop did not */
    }
    task_watch_board *board = thread->app->task_board;
    if (board != NULL) {
        pthread_mutex_lock(&board->lock);
        for (task_watch_thread **p = &board->threads; *p != NULL; p = &(*p)->board_next) {
            if (*p == t) {
                *p = t->board_next;
                break;
            }
        }
        pthread_mutex_unlock(&board->lock);
        /* h2o's receiver must be empty before it goes: let a wake-up already sent arrive */
        for (int i = 0; i < 100; i++) {
            pthread_mutex_lock(&board->lock);
            bool pending = t->wake_sent;
            pthread_mutex_unlock(&board->lock);
            if (!pending) break;
            h2o_evloop_run(t->context->loop, 10);
        }
        h2o_multithread_unregister_receiver(t->context->queue, &t->receiver);
    }
    if (h2o_timeout_is_linked(&t->tick)) h2o_timeout_unlink(&t->tick);
    h2o_timeout_dispose(t->context->loop, &t->tick_timeout);
    t->started = false;
}

void task_watch_thread_free(api_thread *thread)
{
    task_watch_thread *t = thread->watch;
    if (t == NULL) return;
    str_map_free(&t->by_task);
    free_ids(&t->inbox);
    free(t);
    thread->watch = NULL;
}
