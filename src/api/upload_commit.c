/* upload_commit.c — the common end of every upload route (see uploads_internal.h): the scratch file
 * becomes the object uploads/<id>/<filename>, then its row is inserted under the key's quota, then
 * the objects the insert made obsolete (evicted uploads, or the new object when the insert failed)
 * are removed, then the answer carries the signed link.
 *
 * On local storage each step is a rename or an unlink and runs right here on the loop. On S3 a step
 * that talks to the bucket (the PUT, the removals) runs on the offload pool, so a slow bucket never
 * holds the event loop: PUT (pool) → insert (loop, the thread's store connection) → removals (pool)
 * → answer (loop). A client that goes away meanwhile gets no row: its object is removed (detached). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/uploads_internal.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

void upload_scratch_remove(scratch_file *scratch)
{
    if (scratch->dir[0]) blob_scratch_remove(scratch->dir);
    scratch->dir[0] = scratch->path[0] = '\0';
}

void upload_send_server_error(h2o_req_t *req, const char *what)
{
    log_error("upload failed", "step=\"%s\"", what);
    http_send_error_code(req, "internal_error", NULL, "The upload could not be stored; retry later.");
}

void upload_send_too_large(h2o_req_t *req, const api_app *app, const char *param)
{
    char message[128];
    snprintf(message, sizeof(message), "The file is larger than the limit of %lld bytes.",
             (long long)app->max_upload_bytes);
    http_send_error_code(req, "file_too_large", param, "%s", message);
}

/* One upload between its scratch file and its answer. */
typedef struct upload_commit_job {
    api_thread *thread; /* the loop's: every step's done runs on this thread */
    upload_record upload;
    char url[4096];
    scratch_file scratch;
    bool put_ran, put_ok;   /* set by the PUT step */
    store_status recorded;  /* the insert's outcome */
    upload_record *evicted; /* the key's uploads the insert removed, whose objects go next */
    size_t evicted_count;
    bool remove_new; /* the new object goes too (the insert failed, or nobody waits for it) */
    bool removals_ran;
    upload_then then; /* fn NULL: the upload is answered here */
} upload_commit_job;

/* A then that was not handed the upload learns there is none (and releases its context). */
static void then_without_upload(api_thread *thread, h2o_req_t *req, upload_then *then)
{
    if (then->fn) then->fn(thread, req, NULL, NULL, then->context);
    then->fn = NULL;
}

static void commit_job_free(upload_commit_job *job)
{
    then_without_upload(job->thread, NULL, &job->then);
    upload_scratch_remove(&job->scratch);
    free(job->evicted);
    free(job);
}

/* A new upload's record: a fresh id, its object under uploads/<id>/<filename>, the content type its
 * name gives (else the one declared), and its expiry. */
static void upload_record_fill(upload_record *upload, const api_app *app, const char *key_id, int64_t size,
                               const char *filename, const char *declared_type, bool auto_cleanup,
                               int64_t now)
{
    memset(upload, 0, sizeof(*upload));
    char prefix[40];
    snprintf(prefix, sizeof(prefix), "file-%lld-", (long long)now);
    ids_random_alnum(upload->id, sizeof(upload->id), prefix, 12);
    snprintf(upload->key_id, sizeof(upload->key_id), "%s", key_id);
    snprintf(upload->filename, sizeof(upload->filename), "%s", filename);
    snprintf(upload->object_name, sizeof(upload->object_name), "uploads/%s/%s", upload->id, filename);
    const char *type = api_file_type_of_name(filename);
    snprintf(upload->content_type, sizeof(upload->content_type), "%s",
             type            ? type
             : declared_type ? declared_type
                             : "");
    upload->size = size;
    upload->auto_cleanup = auto_cleanup;
    upload->created_at = now;
    upload->expires_at = now + app->upload_ttl_seconds;
}

/* 200 {"id","filename","url","size","created"} for a stored upload. */
static void send_upload(h2o_req_t *req, const upload_record *upload, const char *url)
{
    json_text text = {0};
    json_text_raw(&text, "{");
    json_text_key(&text, "id", true);
    json_text_string(&text, upload->id);
    json_text_key(&text, "filename", false);
    json_text_string(&text, upload->filename);
    json_text_key(&text, "url", false);
    json_text_string(&text, url);
    json_text_key(&text, "size", false);
    json_text_integer(&text, upload->size);
    json_text_key(&text, "created", false);
    json_text_integer(&text, upload->created_at);
    json_text_raw(&text, "}");
    api_send_json_text(req, 200, &text);
}

/* ---- the steps ---- */

static void put_work(void *ctx)
{
    upload_commit_job *job = ctx;
    job->put_ran = true;
    job->put_ok = blob_put_file(job->thread->app->blobs, job->upload.object_name, job->scratch.path) == 0;
}

static void removals_work(void *ctx)
{
    upload_commit_job *job = ctx;
    blob_store *blobs = job->thread->app->blobs;
    job->removals_ran = true;
    char folder[64];
    if (job->remove_new) {
        snprintf(folder, sizeof(folder), "uploads/%s", job->upload.id);
        if (blob_remove_prefix(blobs, folder) != 0)
            log_warn("cannot remove an unrecorded upload", "upload=%s", job->upload.id);
    }
    for (size_t i = 0; i < job->evicted_count; i++) {
        snprintf(folder, sizeof(folder), "uploads/%s", job->evicted[i].id);
        if (blob_remove_prefix(blobs, folder) != 0)
            log_warn("cannot remove an evicted upload", "upload=%s", job->evicted[i].id);
        log_info("upload evicted", "upload=%s key=%s for=%s", job->evicted[i].id, job->upload.key_id,
                 job->upload.id);
    }
}

/* The answer the insert's outcome calls for (nothing when the client is gone). */
static void commit_answer(upload_commit_job *job, h2o_req_t *req)
{
    const api_app *app = job->thread->app;
    if (req == NULL) return;
    if (job->recorded == STORE_OK) {
        log_info("uploaded", "upload=%s key=%s size=%lld auto_cleanup=%s", job->upload.id, job->upload.key_id,
                 (long long)job->upload.size, job->upload.auto_cleanup ? "true" : "false");
        if (job->then.fn == NULL) {
            send_upload(req, &job->upload, job->url);
        } else {
            upload_then then = job->then;
            job->then.fn = NULL;
            then.fn(job->thread, req, &job->upload, job->url, then.context);
        }
    } else if (job->recorded == STORE_CONFLICT) {
        char message[256];
        snprintf(message, sizeof(message),
                 "This upload does not fit in the key's storage quota of %lld bytes%s.",
                 (long long)app->upload_quota_bytes,
                 job->upload.auto_cleanup
                     ? " even after removing its older auto_cleanup uploads"
                     : "; delete or wait for older uploads to expire, or send auto_cleanup: true");
        http_send_error_code(req, "storage_quota_exceeded", NULL, "%s", message);
    } else {
        api_send_store_unavailable(req, "The upload could not be recorded; nothing was kept. Retry later.");
    }
}

static void removals_done(h2o_req_t *req, void *ctx)
{
    upload_commit_job *job = ctx;
    if (!job->removals_ran) removals_work(job); /* the server is stopping: the loop is going anyway */
    commit_answer(job, req);
    commit_job_free(job);
}

/* Removes what the insert made obsolete, then answers: on the pool for S3 (while the request waits, or
 * detached when it is gone), here otherwise. Frees the job. */
static void commit_removals(upload_commit_job *job, h2o_req_t *req)
{
    if (!job->remove_new && job->evicted_count == 0) {
        commit_answer(job, req);
        commit_job_free(job);
        return;
    }
    if (!blob_store_is_local(job->thread->app->blobs)) {
        int queued = req ? http_offload_continue(req, removals_work, removals_done, job)
                         : http_offload_detached(removals_work, removals_done, job);
        if (queued == HTTP_OFFLOAD_QUEUED) return;
    }
    removals_done(req, job);
}

/* The object is in storage: its row, under the key's quota. */
static void commit_record(upload_commit_job *job, h2o_req_t *req)
{
    const api_app *app = job->thread->app;
    job->recorded = store_upload_insert(job->thread->db, &job->upload, app->upload_quota_bytes,
                                        clock_unix_seconds(), &job->evicted, &job->evicted_count);
    if (job->recorded != STORE_OK) job->remove_new = true;
    commit_removals(job, req);
}

static void put_done(h2o_req_t *req, void *ctx)
{
    upload_commit_job *job = ctx;
    if (job->put_ran && job->put_ok && req == NULL) {
        /* the client went while the object was written: nobody learns of it, so it takes no quota */
        log_info("upload abandoned", "upload=%s key=%s", job->upload.id, job->upload.key_id);
        job->remove_new = true;
        commit_removals(job, NULL);
        return;
    }
    if (req && !job->put_ran) {
        http_add_header(req, "retry-after", "1");
        http_send_error_code(req, "server_stopping", NULL, "The server is stopping; retry later.");
    } else if (req && !job->put_ok) {
        upload_send_server_error(req, "store the file");
    } else if (req) {
        commit_record(job, req);
        return;
    }
    commit_job_free(job);
}

void upload_commit(api_thread *thread, h2o_req_t *req, upload_step step, const char *key_id,
                   scratch_file *scratch, int64_t size, const char *filename, const char *declared_type,
                   bool auto_cleanup, const upload_then *then)
{
    const api_app *app = thread->app;
    upload_then next = then ? *then : (upload_then){0};
    if (size > app->max_upload_bytes) {
        upload_scratch_remove(scratch);
        upload_send_too_large(req, app, NULL);
        then_without_upload(thread, req, &next);
        return;
    }
    upload_commit_job *job = calloc(1, sizeof(*job));
    if (job == NULL) {
        upload_scratch_remove(scratch);
        upload_send_server_error(req, "allocate");
        then_without_upload(thread, req, &next);
        return;
    }
    job->thread = thread;
    job->then = next;
    job->scratch = *scratch;
    scratch->dir[0] = scratch->path[0] = '\0';
    upload_record_fill(&job->upload, app, key_id, size, filename, declared_type, auto_cleanup,
                       clock_unix_seconds());
    if (!blob_name_is_valid(job->upload.object_name) ||
        link_sign_url(&app->signer, app->public_url, job->upload.object_name, job->upload.expires_at,
                      job->url, sizeof(job->url)) != 0) {
        commit_job_free(job);
        upload_send_server_error(req, "name");
        return;
    }
    if (!blob_store_is_local(app->blobs)) {
        int queued = step == UPLOAD_FIRST_STEP ? http_offload(req, put_work, put_done, job)
                                               : http_offload_continue(req, put_work, put_done, job);
        if (queued == HTTP_OFFLOAD_QUEUED) return;
        if (queued == HTTP_OFFLOAD_REFUSED) { /* answered: 503 overloaded or server_stopping */
            commit_job_free(job);
            return;
        }
    }
    put_work(job); /* local storage (a rename), or the pool could not take the job */
    put_done(req, job);
}
