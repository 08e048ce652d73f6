/* task_watch.h — the HTTP threads' side of "task changed" (api/task_events.c's streams and ?wait): who
 * on this loop thread watches which task (or which key's tasks), the mailbox through which the
 * engine's hub (engine/task_changes.h) reaches the thread, and the thread's one tick timer.
 *
 * A change reaches a watcher three ways: the hub (this process's writes, and other nodes' through their
 * "task" signals) puts the task's id in the mailbox of every thread that watches anything and wakes its
 * loop, which reads the task once and hands it to the watchers of the id and of its key; and the tick
 * (every TASK_WATCH_TICK_MS) re-reads, for each watcher that had no news for its fallback interval, what
 * it shows — so a lost notice only delays. No watcher has a thread or a timer of its own. Not part of
 * the module's contract (that is api.h). */
#ifndef REELAY_API_TASK_WATCH_H
#define REELAY_API_TASK_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api_internal.h"
#include "util/str_map.h"

enum { TASK_WATCH_TICK_MS = 250 };

typedef enum { WATCH_TASK_STREAM = 0, WATCH_KEY_STREAM, WATCH_WAIT } task_watch_kind;

typedef struct task_watcher task_watcher;

/* What a watcher does with news (loop thread). task is the task as just read (for a key watcher: any
 * task of its key). on_tick runs every tick while the watcher lives: its keep-alive, its fallback
 * re-read and its deadline are its own business. */
typedef struct task_watcher_ops {
    void (*on_task)(task_watcher *watcher, const task_record *task);
    void (*on_tick)(task_watcher *watcher, int64_t now_ms);
} task_watcher_ops;

struct task_watcher {
    const task_watcher_ops *ops;
    task_watch_kind kind;
    api_thread *thread;
    char task_id[IDS_TASK_ID_SIZE];    /* WATCH_TASK_STREAM, WATCH_WAIT */
    char key_id[32];                   /* WATCH_KEY_STREAM */
    task_watcher *prev, *next;         /* among the thread's watchers of the same task id, or of keys */
    task_watcher *all_prev, *all_next; /* every watcher of the thread (the tick) */
    bool watching;                     /* linked into the thread's lists */
};

/* The mailboxes of every HTTP thread, for the engine's hub to write into. Made once per app. */
typedef struct task_watch_board task_watch_board;

/* Subscribes a new board to the engine's task changes (engine_follow_tasks); NULL when out of memory
 * or no room is left (streams then rely on their fallback re-reads alone). It lives as long as the
 * process (the engine calls into it until engine_stop). */
task_watch_board *task_watch_board_start(engine *e);

/* Links the watcher (its ops, kind, thread and ids set) into its thread's lists, starting the thread's
 * mailbox and tick on first use. False when out of memory: the caller answers and frees. */
bool task_watch_add(task_watcher *watcher, h2o_context_t *context);
/* Unlinks it (no call reaches it after this); nothing when it is not linked. */
void task_watch_remove(task_watcher *watcher);
/* Every watcher of the thread, for a stopping thread (call on_stop on each, which must remove it),
 * then the mailbox and the tick go. Loop thread, before its context is disposed. */
void task_watch_thread_stop(api_thread *thread, void (*on_stop)(task_watcher *watcher));
/* Frees what the thread's watch state holds once its loop has stopped. */
void task_watch_thread_free(api_thread *thread);

/* The event id of a task's state: 1000 × rank of its public status (pending 0, processing 1, finished 2)
 * + progress. It only grows as the task moves (progress never decreases, statuses only move forward),
 * and every change a client can see — status or progress — changes it. Pure. */
int64_t task_watch_mark(const task_record *task);

#endif
