/* admission_writer.h — the one thread that commits admissions for every HTTP thread (group commit).
 *
 * An HTTP thread gathers the submissions of one event-loop iteration into a batch and hands it here;
 * the writer takes every batch waiting (from all HTTP threads), admits them all in one store
 * transaction (store_task_admit) on its own connection, fills in each item's outcome and sends each
 * batch back to the loop it came from, which answers its clients. So HTTP threads never wait for a
 * commit, and the longer a commit takes the more submissions the next one carries: the log is written
 * once per batch, not once per task.
 *
 * Threads: admission_writer_start/stop on the thread that owns the writer (serve); admission_writer_send
 * on any HTTP loop thread; the batch's `done` runs on the loop the batch names. */
#ifndef REELAY_API_ADMISSION_WRITER_H
#define REELAY_API_ADMISSION_WRITER_H

#include <h2o.h>
#include <stddef.h>

#include "store/store.h"

typedef struct admission_writer admission_writer;

/* One loop's batch. The loop fills items/count/reply_to and keeps it untouched until reply_to's
 * callback gets it back (as the h2o_multithread_message_t it starts with), with `stored` set: STORE_OK
 * and each item's outcome filled in, or the store's failure (nothing admitted, or — a COMMIT whose
 * answer was lost — perhaps everything). */
typedef struct admission_batch {
    h2o_multithread_message_t message; /* first: the reply is this message */
    struct admission_batch *next;      /* the writer's inbox */
    h2o_multithread_receiver_t *reply_to;
    task_admission *items;
    size_t count;
    store_status stored;
    void *owner; /* the loop's own data (its submissions); the writer never reads it */
} admission_batch;

/* Starts the writer thread on db, a connection nobody else uses while it runs (the writer does not
 * own it). NULL when the thread cannot start (then admissions are committed on the HTTP threads). */
admission_writer *admission_writer_start(store *db);

/* Queues batch (owned by the caller until it comes back); never blocks on the store. */
void admission_writer_send(admission_writer *writer, admission_batch *batch);

/* Admits whatever is queued, sends it back, then stops the thread and frees the writer. Call after no
 * thread will send any more (the HTTP server has stopped: every loop drained its batches). NULL is
 * ignored. */
void admission_writer_stop(admission_writer *writer);

#endif
