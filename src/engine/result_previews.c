/* result_previews.c — previews made after a task completed (see result_previews.h): one result's previews
 * made, stored and recorded; and the pool of low-priority threads that takes the queued results, oldest
 * first. */
#include "engine/result_previews.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/vector.h"

enum {
    PREVIEW_TIMEOUT_SECONDS = 120, /* each of the two ffmpeg runs */
    PREVIEW_NICE = 10,             /* the threads' and their ffmpeg children's priority */
    STOP_CLEAR_MAX = 10000,        /* marks of unmade previews cleared at a stop, at most */
};

bool result_previews_pending(const json_t *result)
{
    const char *value = json_string_value(json_object_get(result, RESULT_PREVIEWS_MEMBER));
    return value != NULL && strcmp(value, RESULT_PREVIEWS_PENDING) == 0;
}

/* ---- one result's previews ---- */

/* The preview kinds: the bit media_make_previews sets, the stored object's file name, the result's member. */
static const struct {
    int flag;
    const char *object, *member;
} KINDS[] = {{MEDIA_PREVIEW_POSTER, "poster.jpg", "thumbnail"},
             {MEDIA_PREVIEW_SPRITESHEET, "spritesheet.jpg", "spritesheet"}};
enum { KIND_COUNT = sizeof(KINDS) / sizeof(KINDS[0]) };

/* The previews of one video, made in a scratch folder. */
typedef struct made_previews {
    char scratch[PATH_MAX];
    char paths[KIND_COUNT][PATH_MAX + 32];
    int made; /* MEDIA_PREVIEW_* bits */
} made_previews;

/* Makes the previews of video (a local file) in out->scratch (created here; "" when it could not be). */
static void make_in_scratch(blob_store *blobs, const char *task_id, const char *video, const media_info *info,
                            double duration, made_previews *out)
{
    out->made = 0;
    char err[1024] = "";
    if (blob_scratch_create(blobs, out->scratch, sizeof(out->scratch)) != 0) {
        out->scratch[0] = '\0';
        log_warn("a result's previews could not be made", "task=%s error=\"no scratch space\"", task_id);
        return;
    }
    for (int i = 0; i < KIND_COUNT; i++)
        snprintf(out->paths[i], sizeof(out->paths[i]), "%s/preview-%s", out->scratch, KINDS[i].object);
    media_preview_job job = {.video_path = video,
                             .info = info,
                             .duration = duration,
                             .poster_path = out->paths[0],
                             .spritesheet_path = out->paths[1],
                             .work_dir = out->scratch,
                             .timeout_seconds = PREVIEW_TIMEOUT_SECONDS};
    if (media_make_previews(&job, &out->made, err, sizeof(err)) != 0)
        log_warn("a result's previews could not be made", "task=%s error=\"%s\"", task_id, err);
}

int result_previews_add(blob_store *blobs, const char *task_id, const char *video, const media_info *info,
                        double duration, json_t *result)
{
    made_previews *made = malloc(sizeof(*made)); /* 12 KB of paths: not on a worker's stack */
    if (made == NULL) {
        log_warn("a result's previews could not be made", "task=%s error=\"out of memory\"", task_id);
        return 0;
    }
    make_in_scratch(blobs, task_id, video, info, duration, made);
    int stored = 0;
    for (int i = 0; i < KIND_COUNT; i++) {
        if (!(made->made & KINDS[i].flag)) continue;
        char name[IDS_TASK_ID_SIZE + 32];
        snprintf(name, sizeof(name), "results/%s/%s", task_id, KINDS[i].object);
        if (blob_put_file(blobs, name, made->paths[i]) != 0 ||
            json_object_set_new(result, KINDS[i].member, json_string(name)) != 0)
            log_warn("a result's preview could not be stored", "task=%s preview=%s", task_id,
                     KINDS[i].object);
        else
            stored++;
    }
    if (made->scratch[0]) blob_scratch_remove(made->scratch);
    free(made);
    return stored;
}

/* Removes the preview objects of task_id (its task went away meanwhile). */
static void remove_stored(blob_store *blobs, const char *task_id)
{
    for (int i = 0; i < KIND_COUNT; i++) {
        char name[IDS_TASK_ID_SIZE + 32];
        snprintf(name, sizeof(name), "results/%s/%s", task_id, KINDS[i].object);
        blob_remove(blobs, name); /* absent is fine */
    }
}

/* Adds the previews of task_id's stored video to result: read in place on local storage, copied into a
 * scratch folder from S3. Returns how many were stored. */
static int add_of_stored(blob_store *blobs, const char *task_id, const media_info *info, double duration,
                         json_t *result)
{
    char name[IDS_TASK_ID_SIZE + 32], video[PATH_MAX + 32], copy[PATH_MAX] = "";
    snprintf(name, sizeof(name), "results/%s/output.mp4", task_id);
    int found = -1;
    if (blob_store_is_local(blobs)) {
        found = blob_local_path(blobs, name, video, sizeof(video));
    } else if (blob_scratch_create(blobs, copy, sizeof(copy)) == 0) {
        snprintf(video, sizeof(video), "%s/output.mp4", copy);
        found = blob_get_file(blobs, name, video);
    } else {
        copy[0] = '\0';
    }
    int stored = 0;
    if (found == 0)
        stored = result_previews_add(blobs, task_id, video, info, duration, result);
    else
        log_warn("a result's previews could not be made", "task=%s error=\"the stored result is unreadable\"",
                 task_id);
    if (copy[0]) blob_scratch_remove(copy);
    return stored;
}

/* The task's results when it is completed and its first result waits for previews: *results (the caller
 * decrefs) and its first result. GONE, DEFERRED or MADE (= found). */
static result_previews_outcome read_pending(store *db, const char *task_id, json_t **results, json_t **first)
{
    *results = NULL;
    task_record task;
    store_status read = store_task_get(db, task_id, &task);
    if (read == STORE_NOT_FOUND) return RESULT_PREVIEWS_GONE;
    if (read != STORE_OK) {
        log_warn("a result's previews wait: the store could not be read", "task=%s", task_id);
        return RESULT_PREVIEWS_DEFERRED;
    }
    json_error_t error;
    if (task.state == TASK_COMPLETED && task.results_json != NULL)
        *results = json_loads(task.results_json, 0, &error);
    task_record_clear(&task);
    *first = json_array_get(*results, 0);
    if (*first != NULL && result_previews_pending(*first)) return RESULT_PREVIEWS_MADE;
    json_decref(*results);
    *results = NULL;
    return RESULT_PREVIEWS_GONE;
}

/* Writes results back as the task's; GONE when the task went away or changed meanwhile. */
static result_previews_outcome record(store *db, const char *task_id, json_t *results)
{
    char *text = json_dumps(results, JSON_COMPACT);
    store_status written =
        text ? store_task_set_results(db, task_id, text, clock_unix_seconds()) : STORE_ERROR;
    free(text);
    if (written == STORE_OK) return RESULT_PREVIEWS_MADE;
    if (written == STORE_NOT_FOUND || written == STORE_CONFLICT) return RESULT_PREVIEWS_GONE;
    log_warn("a result's previews could not be recorded", "task=%s", task_id);
    return RESULT_PREVIEWS_DEFERRED;
}

result_previews_outcome result_previews_make(store *db, blob_store *blobs, const char *task_id,
                                             const media_info *info, double duration)
{
    json_t *results = NULL, *first = NULL;
    result_previews_outcome outcome = read_pending(db, task_id, &results, &first);
    if (outcome != RESULT_PREVIEWS_MADE) return outcome;
    int stored = add_of_stored(blobs, task_id, info, duration, first);
    json_object_del(first, RESULT_PREVIEWS_MEMBER);
    outcome = record(db, task_id, results);
    json_decref(results);
    if (outcome == RESULT_PREVIEWS_GONE) remove_stored(blobs, task_id); /* deleted meanwhile: keep nothing */
    if (outcome == RESULT_PREVIEWS_MADE && stored < KIND_COUNT) outcome = RESULT_PREVIEWS_PARTIAL;
    return outcome;
}

void result_previews_give_up(store *db, const char *task_id)
{
    json_t *results = NULL, *first = NULL;
    if (read_pending(db, task_id, &results, &first) != RESULT_PREVIEWS_MADE) return;
    json_object_del(first, RESULT_PREVIEWS_MEMBER);
    record(db, task_id, results);
    json_decref(results);
}

/* ---- the pool ---- */

typedef struct preview_job {
    char task_id[IDS_TASK_ID_SIZE];
    media_info info;
    double duration;
} preview_job;

typedef struct preview_worker {
    result_previews *pool;
    pthread_t thread;
    store *db;
    bool started;
} preview_worker;

struct result_previews {
    blob_store *blobs;
    pthread_mutex_t lock; /* guards jobs, head and stopping */
    pthread_cond_t ready; /* a job was queued, or the pool is stopping */
    vector jobs;          /* of preview_job: [head, count) are queued, oldest first */
    size_t head;
    bool stopping;
    preview_worker *workers;
    int worker_count;
};

/* Takes the oldest job (pool->lock held, a job queued). */
static preview_job take_oldest(result_previews *pool)
{
    preview_job job = *(preview_job *)vector_at(&pool->jobs, pool->head++);
    if (pool->head == pool->jobs.count) {
        vector_clear(&pool->jobs);
        pool->head = 0;
    } else if (pool->head >= 1024 && pool->head * 2 >= pool->jobs.count) { /* the taken half goes */
        size_t left = pool->jobs.count - pool->head;
        memmove(vector_at(&pool->jobs, 0), vector_at(&pool->jobs, pool->head), left * sizeof(preview_job));
        pool->jobs.count = left;
        pool->head = 0;
    }
    return job;
}

static void *preview_main(void *arg)
{
    preview_worker *worker = arg;
    result_previews *pool = worker->pool;
    /* this thread only (Linux priorities are per thread); the ffmpeg programs it starts inherit it */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), PREVIEW_NICE) != 0)
        log_warn("the previews' thread keeps its priority", "nice=%d", PREVIEW_NICE);
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && pool->head == pool->jobs.count)
            pthread_cond_wait(&pool->ready, &pool->lock);
        if (pool->stopping) break;
        preview_job job = take_oldest(pool);
        pthread_mutex_unlock(&pool->lock);
        result_previews_make(worker->db, pool->blobs, job.task_id, &job.info, job.duration);
        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

result_previews *result_previews_start(const result_previews_config *config, blob_store *blobs)
{
    result_previews *pool = calloc(1, sizeof(*pool));
    if (pool == NULL || config->workers <= 0) {
        free(pool);
        return NULL;
    }
    pool->blobs = blobs;
    vector_init(&pool->jobs, sizeof(preview_job));
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->workers = calloc((size_t)config->workers, sizeof(*pool->workers));
    if (pool->workers == NULL) {
        result_previews_stop(pool);
        return NULL;
    }
    pool->worker_count = config->workers;
    for (int i = 0; i < config->workers; i++) {
        preview_worker *worker = &pool->workers[i];
        worker->pool = pool;
        bool opened = store_open_url(config->database_url, config->data_dir, &worker->db) == STORE_OK;
        if (opened) store_observe_tasks(worker->db, config->task_observer, config->task_observer_context);
        if (!opened || pthread_create(&worker->thread, NULL, preview_main, worker) != 0) {
            log_error("a previews thread could not start", "data=\"%s\"", config->data_dir);
            result_previews_stop(pool);
            return NULL;
        }
        worker->started = true;
    }
    return pool;
}

bool result_previews_push(result_previews *pool, const char *task_id, const media_info *info, double duration)
{
    preview_job job;
    memset(&job, 0, sizeof(job));
    if (snprintf(job.task_id, sizeof(job.task_id), "%s", task_id) >= (int)sizeof(job.task_id)) return false;
    job.info = *info;
    job.duration = duration;
    pthread_mutex_lock(&pool->lock);
    bool queued = !pool->stopping && vector_push(&pool->jobs, &job) != NULL;
    if (queued) pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    return queued;
}

void result_previews_stop(result_previews *pool)
{
    if (pool == NULL) return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->worker_count; i++)
        if (pool->workers[i].started) pthread_join(pool->workers[i].thread, NULL);
    /* the results still queued will get no previews: their marks go, up to a bound that keeps the stop
     * short (the rest keep theirs) */
    size_t dropped = pool->jobs.count - pool->head, cleared = 0;
    store *db = pool->worker_count > 0 ? pool->workers[0].db : NULL;
    for (size_t i = pool->head; db != NULL && i < pool->jobs.count && cleared < STOP_CLEAR_MAX;
         i++, cleared++)
        result_previews_give_up(db, ((preview_job *)vector_at(&pool->jobs, i))->task_id);
    if (dropped > 0)
        log_info("previews not made before the stop", "results=%zu marks_cleared=%zu", dropped, cleared);
    for (int i = 0; i < pool->worker_count; i++)
        if (pool->workers[i].db) store_close(pool->workers[i].db);
    free(pool->workers);
    vector_free(&pool->jobs);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->ready);
    free(pool);
}
