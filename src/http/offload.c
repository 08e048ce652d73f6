/* offload.c — blocking work (a guarded fetch, a media probe) run for a handler on a shared pool of
 * worker threads, then continued on the request's own event-loop thread, so that no loop ever waits.
 * A job goes: loop thread → the pool's FIFO → a worker runs `work` → h2o's inter-thread queue of the
 * loop that asked → `done` on that loop. A link in the request's pool tells the job when h2o disposes
 * of the request meanwhile; `done` then gets NULL. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "http/http.h"
#include "http/offload_internal.h"
#include "util/log.h"

struct http_offload_job {
    h2o_multithread_message_t message; /* first: messages are turned back into jobs */
    http_offload_job *next;            /* in the pool's FIFO */
    http_offload_receiver *receiver;   /* the loop that asked, and that runs `done` */
    h2o_req_t *req;                    /* NULL once h2o disposed of the request (loop thread only) */
    struct offload_link *link;         /* in the request's pool; NULL once the request is gone */
    http_offload_work_fn work;
    http_offload_done_fn done;
    void *ctx;
    bool skipped;      /* the server was stopping before a worker took the job: `work` never ran */
    bool continuation; /* http_offload_continue: never answered here, done always gets the request */
};

/* Lives in the request's memory pool: h2o disposes of it with the request. */
typedef struct offload_link {
    http_offload_job *job; /* NULL once the job is delivered */
} offload_link;

struct http_offload_receiver {
    h2o_multithread_receiver_t receiver;
    http_offload_pool *pool;
    size_t in_flight; /* jobs sent and not yet delivered back (loop thread only) */
};

struct http_offload_pool {
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    http_offload_job *head, *tail; /* jobs no worker has taken yet */
    size_t queued, max_queued;     /* how many there are, and how many may wait before refusals */
    atomic_bool quiescing;         /* the server is stopping: jobs taken from now on are not run */
    bool exiting;                  /* workers leave once the FIFO is empty */
    size_t worker_count;
    pthread_t *workers;
};

/* The receiver of the loop running on this thread (set by http_offload_receiver_create). */
static __thread http_offload_receiver *thread_receiver;

static void *worker_main(void *arg)
{
    http_offload_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->mutex);
        while (pool->head == NULL && !pool->exiting)
            pthread_cond_wait(&pool->wake, &pool->mutex);
        http_offload_job *job = pool->head;
        if (job == NULL) { /* exiting, nothing left */
            pthread_mutex_unlock(&pool->mutex);
            return NULL;
        }
        pool->head = job->next;
        if (pool->head == NULL) pool->tail = NULL;
        pool->queued--;
        job->skipped = atomic_load(&pool->quiescing);
        pthread_mutex_unlock(&pool->mutex);
        if (!job->skipped) job->work(job->ctx);
        h2o_multithread_send_message(&job->receiver->receiver, &job->message);
    }
}

http_offload_pool *http_offload_pool_start(size_t workers)
{
    http_offload_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) return NULL;
    pool->workers = calloc(workers ? workers : 1, sizeof(*pool->workers));
    if (pool->workers == NULL) {
        free(pool);
        return NULL;
    }
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->wake, NULL);
    for (size_t i = 0; i < workers; i++) {
        if (pthread_create(&pool->workers[i], NULL, worker_main, pool) != 0) {
            log_error("cannot start an offload worker", "index=%zu", i);
            break;
        }
        pool->worker_count++;
    }
    pool->max_queued = pool->worker_count * HTTP_OFFLOAD_QUEUE_PER_WORKER;
    if (pool->worker_count == 0) {
        http_offload_pool_stop(pool);
        return NULL;
    }
    return pool;
}

void http_offload_pool_quiesce(http_offload_pool *pool)
{
    atomic_store(&pool->quiescing, true);
}

void http_offload_pool_stop(http_offload_pool *pool)
{
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->quiescing, true);
    pool->exiting = true;
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    for (size_t i = 0; i < pool->worker_count; i++)
        pthread_join(pool->workers[i], NULL);
    /* Every loop drained its jobs before it stopped, so the FIFO is empty. */
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->workers);
    free(pool);
}

static void on_request_disposed(void *object)
{
    offload_link *link = object;
    if (link->job) {
        link->job->req = NULL;
        link->job->link = NULL; /* this memory goes with the request */
    }
}

/* Runs on the loop thread: the jobs its workers finished. */
static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    http_offload_receiver *self = (http_offload_receiver *)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        http_offload_job *job = H2O_STRUCT_FROM_MEMBER(http_offload_job, message.link, messages->next);
        h2o_linklist_unlink(&job->message.link);
        self->in_flight--;
        if (job->link) job->link->job = NULL; /* answering may dispose of the request */
        h2o_req_t *req = job->req;
        if (req && atomic_load(&self->pool->quiescing)) {
            /* The loop is about to go: close the connection once answered, so that nothing of it
             * outlives the loop. */
            req->http1_is_persistent = 0;
            if (job->skipped && !job->continuation) {
                http_send_error_code(req, "server_stopping", NULL, "The server is stopping; retry later.");
                req = NULL;
            }
        }
        job->done(req, job->ctx);
        free(job);
    }
}

http_offload_receiver *http_offload_receiver_create(http_offload_pool *pool, h2o_context_t *context)
{
    http_offload_receiver *self = calloc(1, sizeof(*self));
    if (self == NULL) return NULL;
    self->pool = pool;
    h2o_multithread_register_receiver(context->queue, &self->receiver, on_jobs_done);
    thread_receiver = self;
    return self;
}

void http_offload_receiver_drain(http_offload_receiver *self, h2o_loop_t *loop)
{
    while (self->in_flight > 0)
        h2o_evloop_run(loop, 100);
}

void http_offload_receiver_destroy(http_offload_receiver *self, h2o_context_t *context)
{
    if (self == NULL) return;
    h2o_multithread_unregister_receiver(context->queue, &self->receiver);
    if (thread_receiver == self) thread_receiver = NULL;
    free(self);
}

/* Answers the refusal of a job that was not queued: the server is stopping, or its queue is full. */
static int refuse(h2o_req_t *req, bool stopping)
{
    http_add_header(req, "retry-after", "1");
    if (stopping)
        http_send_error_code(req, "server_stopping", NULL, "The server is stopping; retry later.");
    else
        http_send_error_code(req, "overloaded", NULL,
                             "Too much work is waiting; nothing was done. Retry later.");
    return HTTP_OFFLOAD_REFUSED;
}

/* Queues a job; a first step (not a continuation) is refused, and answered, when the server is
 * stopping or the queue is full. A detached job (req NULL) is queued as a continuation. */
static int offload_queue(h2o_req_t *req, http_offload_work_fn work, http_offload_done_fn done, void *ctx,
                         bool continuation)
{
    http_offload_receiver *receiver = thread_receiver;
    if (receiver == NULL || receiver->pool == NULL || work == NULL || done == NULL) return -1;
    if (req == NULL && !continuation) return -1;
    http_offload_pool *pool = receiver->pool;
    /* Once the pool is quiesced the loop is draining its jobs and will soon go: a job queued now
     * would come back to a receiver that no longer exists. */
    if (atomic_load(&pool->quiescing)) return continuation ? -1 : refuse(req, true);
    http_offload_job *job = calloc(1, sizeof(*job));
    if (job == NULL) return -1;
    pthread_mutex_lock(&pool->mutex);
    if (!continuation && pool->queued >= pool->max_queued) {
        pthread_mutex_unlock(&pool->mutex);
        free(job);
        return refuse(req, false);
    }
    job->continuation = continuation;
    job->receiver = receiver;
    job->req = req;
    job->work = work;
    job->done = done;
    job->ctx = ctx;
    if (req) {
        job->link = h2o_mem_alloc_shared(&req->pool, sizeof(offload_link), on_request_disposed);
        job->link->job = job;
    }
    receiver->in_flight++;
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pool->queued++;
    pthread_cond_signal(&pool->wake);
    pthread_mutex_unlock(&pool->mutex);
    return HTTP_OFFLOAD_QUEUED;
}

int http_offload(h2o_req_t *req, http_offload_work_fn work, http_offload_done_fn done, void *ctx)
{
    return offload_queue(req, work, done, ctx, false);
}

int http_offload_continue(h2o_req_t *req, http_offload_work_fn work, http_offload_done_fn done, void *ctx)
{
    return offload_queue(req, work, done, ctx, true);
}

int http_offload_detached(http_offload_work_fn work, http_offload_done_fn done, void *ctx)
{
    return offload_queue(NULL, work, done, ctx, true);
}
