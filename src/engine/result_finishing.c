/* result_finishing.c — finishing threads for downloaded results (see result_finishing.h): a queue under
 * one lock, each thread taking the oldest job and completing its task with the file. */
#include "engine/result_finishing.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/task_completion.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/vector.h"

/* A downloaded result for a finishing thread to probe, store and complete. */
typedef struct finishing_job {
    char task_id[IDS_TASK_ID_SIZE];
    char *scratch; /* malloc'd; the folder holds output.mp4 and is removed by the finishing thread */
    double stated_duration;
} finishing_job;

typedef struct finishing_worker {
    result_finishing *pool;
    pthread_t thread;
    store *db;
    bool started;
} finishing_worker;

struct result_finishing {
    blob_store *blobs;
    result_previews *previews;
    result_finished_fn finished;
    void *context;
    pthread_mutex_t lock; /* guards jobs and stopping */
    pthread_cond_t ready; /* a job was queued, or the pool is stopping */
    vector jobs;          /* of finishing_job: [head, count) are queued, oldest first */
    size_t head;
    bool stopping;
    finishing_worker *workers;
    int worker_count;
};

/* Completes the job's task, or fails it; true when it completed. */
static bool finish_one(result_finishing *pool, store *db, const finishing_job *job)
{
    char path[PATH_MAX + 16], code[48] = "", message[512] = "";
    snprintf(path, sizeof(path), "%s/output.mp4", job->scratch);
    task_completion what = {.task_id = job->task_id,
                            .from = TASK_FINALIZING,
                            .path = path,
                            .stated_duration = job->stated_duration,
                            .previews = pool->previews};
    task_completion_result result =
        task_complete_with_file(db, pool->blobs, &what, code, sizeof(code), message, sizeof(message));
    blob_scratch_remove(job->scratch);
    if (result == TASK_COMPLETION_DONE) {
        log_info("task", "task=%s state=completed channel=-", job->task_id);
        return true;
    }
    if (result == TASK_COMPLETION_FAILED &&
        store_task_fail(db, job->task_id, code, message, clock_unix_seconds()) == STORE_OK)
        log_info("task", "task=%s state=failed channel=- %s", job->task_id, code);
    return false;
}

/* Takes the oldest job (pool->lock held, a job queued): results complete in the order they came in, so
 * none waits behind a burst that came after it. */
static finishing_job take_oldest(result_finishing *pool)
{
    finishing_job job = *(finishing_job *)vector_at(&pool->jobs, pool->head++);
    if (pool->head == pool->jobs.count) {
        vector_clear(&pool->jobs);
        pool->head = 0;
    } else if (pool->head >= 1024 && pool->head * 2 >= pool->jobs.count) { /* the taken half goes */
        size_t left = pool->jobs.count - pool->head;
        memmove(vector_at(&pool->jobs, 0), vector_at(&pool->jobs, pool->head), left * sizeof(finishing_job));
        pool->jobs.count = left;
        pool->head = 0;
    }
    return job;
}

static void *finishing_main(void *arg)
{
    finishing_worker *worker = arg;
    result_finishing *pool = worker->pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && pool->head == pool->jobs.count)
            pthread_cond_wait(&pool->ready, &pool->lock);
        if (pool->stopping) break;
        finishing_job job = take_oldest(pool);
        pthread_mutex_unlock(&pool->lock);
        bool completed = finish_one(pool, worker->db, &job);
        free(job.scratch);
        pool->finished(pool->context, job.task_id, completed);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

result_finishing *result_finishing_start(const result_finishing_config *config, blob_store *blobs,
                                         int workers, result_finished_fn finished, void *context)
{
    result_finishing *pool = calloc(1, sizeof(*pool));
    if (pool == NULL || workers <= 0) {
        free(pool);
        return NULL;
    }
    pool->blobs = blobs;
    pool->previews = config->previews;
    pool->finished = finished;
    pool->context = context;
    vector_init(&pool->jobs, sizeof(finishing_job));
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->workers = calloc((size_t)workers, sizeof(*pool->workers));
    if (pool->workers == NULL) {
        result_finishing_stop(pool);
        return NULL;
    }
    pool->worker_count = workers;
    for (int i = 0; i < workers; i++) {
        finishing_worker *worker = &pool->workers[i];
        worker->pool = pool;
        bool opened = store_open_url(config->database_url, config->data_dir, &worker->db) == STORE_OK;
        if (opened) {
            store_set_lease_epoch(worker->db, config->lease_epoch);
            store_observe_tasks(worker->db, config->task_observer, config->task_observer_context);
        }
        if (!opened || pthread_create(&worker->thread, NULL, finishing_main, worker) != 0) {
            log_error("a finishing thread could not start", "data=\"%s\"", config->data_dir);
            result_finishing_stop(pool);
            return NULL;
        }
        worker->started = true;
    }
    return pool;
}

bool result_finishing_push(result_finishing *pool, const char *task_id, const char *scratch,
                           double stated_duration)
{
    finishing_job job;
    memset(&job, 0, sizeof(job));
    if (snprintf(job.task_id, sizeof(job.task_id), "%s", task_id) >= (int)sizeof(job.task_id) ||
        (job.scratch = strdup(scratch)) == NULL) {
        free(job.scratch);
        return false;
    }
    job.stated_duration = stated_duration;
    pthread_mutex_lock(&pool->lock);
    bool queued = vector_push(&pool->jobs, &job) != NULL;
    if (queued) pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    if (!queued) free(job.scratch);
    return queued;
}

void result_finishing_stop(result_finishing *pool)
{
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->worker_count; i++) {
        if (pool->workers[i].started) pthread_join(pool->workers[i].thread, NULL);
        if (pool->workers[i].db) store_close(pool->workers[i].db);
    }
    free(pool->workers);
    for (size_t i = pool->head; i < pool->jobs.count; i++) /* dropped: their tasks resume on the next start */
        free(((finishing_job *)vector_at(&pool->jobs, i))->scratch);
    vector_free(&pool->jobs);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->ready);
    free(pool);
}
