/* task_changes.h — the "task changed" hub of one process: who wants to know that a task may have
 * changed (the live event streams and ?wait of api/task_events.c) hears it from one place.
 *
 * Fed by every task write of this process (the engine's store connections observe their writes,
 * store_observe_tasks; admissions and cancels through engine_submit / engine_cancel) and by the other
 * nodes (engine.c turns their "task" signals into task_changes_publish_local). A change published here
 * is also relayed to the other nodes when a relay runs: one thread gathers the ids published meanwhile
 * (each once) and sends them, several to a signal body, so a burst of progress updates costs a few
 * broadcasts and never blocks the thread that wrote the task.
 *
 * The news is only "this task may have changed": a subscriber re-reads what it shows. A notice may be
 * lost (a signal between nodes is delivered at most once), so subscribers keep a periodic re-read as
 * the fallback; a NULL id means "any task may have changed" (signals were missed: re-read everything).
 *
 * Thread safety: every function may be called from any thread. Subscribers are called on the
 * publishing thread, one publication at a time, under the hub's lock: they must be quick (hand the id
 * to their own thread) and must not call the hub. */
#ifndef REELAY_ENGINE_TASK_CHANGES_H
#define REELAY_ENGINE_TASK_CHANGES_H

#include <stdbool.h>
#include <stddef.h>

enum { TASK_CHANGES_SUBSCRIBERS_MAX = 8 };

typedef struct task_changes task_changes;

/* A subscriber's callback: task_id (valid during the call) may have changed; NULL = any may have. */
typedef void (*task_changes_fn)(void *context, const char *task_id);
/* The relay's way out: sends one body (task ids separated by single spaces) to the other nodes. May
 * block (one round trip to the database); a failure is the sender's to log. */
typedef void (*task_changes_send_fn)(void *context, const char *body);

/* An empty hub, or NULL when out of memory. */
task_changes *task_changes_create(void);
/* Stops the relay (if any) and frees the hub. No subscriber is called after it returns. NULL is fine. */
void task_changes_destroy(task_changes *hub);

/* Adds a subscriber. False when TASK_CHANGES_SUBSCRIBERS_MAX are subscribed already. */
bool task_changes_subscribe(task_changes *hub, task_changes_fn on_change, void *context);
/* Removes the subscriber added with the same function and context: once this returns it is not called
 * again (a call in progress has finished). Nothing when it is not subscribed. */
void task_changes_unsubscribe(task_changes *hub, task_changes_fn on_change, void *context);

/* A task of this process may have changed: tells every subscriber, and queues the id for the relay
 * when one runs. */
void task_changes_publish(task_changes *hub, const char *task_id);
/* The same for news from another node (never relayed again); task_id NULL = any task may have changed. */
void task_changes_publish_local(task_changes *hub, const char *task_id);

/* Starts the relay thread: what task_changes_publish queues is sent through send, bodies of at most
 * body_max bytes. False when a thread cannot start or body_max cannot hold one id. */
bool task_changes_start_relay(task_changes *hub, task_changes_send_fn send, void *context, size_t body_max);
/* Stops the relay thread (what is still queued is dropped: the others' re-reads find it). Nothing when
 * none runs. */
void task_changes_stop_relay(task_changes *hub);

/* The wire format (pure). pack appends ids[*next…] to out (size out_size, NUL-terminated), separated by
 * single spaces, as many as fit in body_max bytes (body_max < out_size), and advances *next past them;
 * returns the body's length (0 when not even one fits). each_id calls on_id with every valid task id of
 * a received body (ids_task_is_valid; anything else is skipped) and returns how many it found. */
size_t task_changes_pack(const char *const *ids, size_t count, size_t *next, char *out, size_t out_size,
                         size_t body_max);
size_t task_changes_each_id(const char *body, void (*on_id)(void *context, const char *task_id),
                            void *context);

#endif
