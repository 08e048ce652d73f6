/* admission_writer.c — the group commit's thread: see admission_writer.h. */
#include "api/admission_writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct admission_writer {
    store *db;
    pthread_t thread;
    pthread_mutex_t lock; /* guards the inbox and stopping */
    pthread_cond_t wake;
    admission_batch *head, *tail; /* batches waiting, oldest first */
    bool stopping;
    task_admission *all; /* the writer's scratch: every item of one commit, side by side */
    size_t all_capacity;
};

/* Takes every waiting batch (oldest first); blocks until there is one. NULL once stopping and empty. */
static admission_batch *take_inbox(admission_writer *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->head == NULL && !w->stopping)
        pthread_cond_wait(&w->wake, &w->lock);
    admission_batch *taken = w->head;
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->lock);
    return taken;
}

/* Room for `count` items in the scratch array; false when memory runs out. */
static bool reserve_scratch(admission_writer *w, size_t count)
{
    if (count <= w->all_capacity) return true;
    size_t capacity = w->all_capacity ? w->all_capacity : 64;
    while (capacity < count)
        capacity *= 2;
    task_admission *grown = realloc(w->all, capacity * sizeof(*grown));
    if (grown == NULL) return false;
    w->all = grown;
    w->all_capacity = capacity;
    return true;
}

/* Admits every item of the batches in one transaction and sends each batch back. */
static void commit_batches(admission_writer *w, admission_batch *batches)
{
    size_t total = 0;
    for (admission_batch *b = batches; b; b = b->next)
        total += b->count;
    store_status stored = STORE_ERROR;
    if (reserve_scratch(w, total)) {
        size_t at = 0;
        for (admission_batch *b = batches; b; b = b->next) {
            memcpy(w->all + at, b->items, b->count * sizeof(*b->items));
            at += b->count;
        }
        stored = store_task_admit(w->db, w->all, total, true);
        at = 0;
        for (admission_batch *b = batches; b; b = b->next) {
            memcpy(b->items, w->all + at, b->count * sizeof(*b->items));
            at += b->count;
        }
    } else {
        log_error("admissions could not be gathered", "count=%zu reason=\"out of memory\"", total);
    }
    while (batches) {
        admission_batch *next = batches->next; /* the batch belongs to its loop once sent */
        batches->stored = stored;
        h2o_multithread_send_message(batches->reply_to, &batches->message);
        batches = next;
    }
}

static void *writer_main(void *arg)
{
    admission_writer *w = arg;
    admission_batch *batches;
    while ((batches = take_inbox(w)) != NULL)
        commit_batches(w, batches);
    return NULL;
}

admission_writer *admission_writer_start(store *db)
{
    admission_writer *w = calloc(1, sizeof(*w));
    if (w == NULL) return NULL;
    w->db = db;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void admission_writer_send(admission_writer *writer, admission_batch *batch)
{
    batch->next = NULL;
    pthread_mutex_lock(&writer->lock);
    if (writer->tail)
        writer->tail->next = batch;
    else
        writer->head = batch;
    writer->tail = batch;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
}

void admission_writer_stop(admission_writer *writer)
{
    if (writer == NULL) return;
    pthread_mutex_lock(&writer->lock);
    writer->stopping = true;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);
    pthread_cond_destroy(&writer->wake);
    pthread_mutex_destroy(&writer->lock);
    free(writer->all);
    free(writer);
}
