/* generations.c — POST /v1/videos/generations, and the admission of a task that it and POST /v1/videos
 * (OpenAI's shape, openai_videos_create.c) share (api_generations_admit).
 *
 *   1. authenticate (and count against the key's rate limit), parse, validate against the catalog;
 *   2. check callback_url; a known Idempotency-Key answers at once (the same task, or 422 when the
 *      body differs);
 *   3. check a channel can run it (503, or 422 unsupported_advanced_options);
 *   4. probe the media inputs on the offload pool (never on this thread): kind, format, duration;
 *      refuse what breaks a documented limit (422 naming the field and the limit);
 *   5. price it (catalog/prices.h) and queue it for this thread's group commit, where one transaction
 *      admits every submission of the loop iteration: reservation, idempotency key and the key's
 *      concurrency limit together (store_task_admit). Only then is it answered: 200 with the task, or
 *      402 insufficient_quota / 429 too_many_concurrent_tasks / 422 idempotency_key_reused, with nothing
 *      stored.
 * Every step but the Idempotency-Key and the group commit is admission.h's, which the quote (quote.c)
 * runs the same way. */
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/admission.h"
#include "api/admission_writer.h"
#include "api/openai_videos_map.h"
#include "catalog/catalog.h"
#include "catalog/prices.h"
#include "util/clock.h"
#include "util/log.h"

bool api_content_type_is_json(h2o_req_t *req)
{
    h2o_iovec_t type = http_request_header(req, "content-type");
    static const char json[] = "application/json";
    if (type.base == NULL || type.len < sizeof(json) - 1 ||
        strncasecmp(type.base, json, sizeof(json) - 1) != 0)
        return false;
    return type.len == sizeof(json) - 1 || type.base[sizeof(json) - 1] == ';' ||
           type.base[sizeof(json) - 1] == ' ';
}

json_t *api_parse_json_object(h2o_req_t *req, reelay_error *err)
{
    if (!api_content_type_is_json(req)) {
        reelay_error_raise(err, "invalid_content_type", NULL, "Content-Type must be application/json.");
        return NULL;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        reelay_error_raise(err, "invalid_json", NULL, "The request body is empty.");
        return NULL;
    }
    json_error_t parse_error;
    json_t *body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &parse_error);
    if (body == NULL) {
        reelay_error_raise(err, "invalid_json", NULL,
                           "The request body is not valid JSON: %s (line %d, column %d).", parse_error.text,
                           parse_error.line, parse_error.column);
    } else if (!json_is_object(body)) {
        json_decref(body);
        body = NULL;
        reelay_error_raise(err, "invalid_json", NULL, "The request body must be a JSON object.");
    }
    return body;
}

struct pending_submission {
    admission_check check; /* first: the probe's callback gets &submission->check */
    task_record task;
    int estimated_seconds;
    h2o_req_t *req;               /* NULL once the request is gone (its connection closed) */
    struct submission_link *link; /* lives in the request's pool; NULL once answered */
    api_thread *thread;
    char idempotency_key[STORE_IDEMPOTENCY_KEY_MAX + 1];
    unsigned char request_hash[32];
    task_admission admission; /* filled by the group commit */
    int id_draws;             /* times its id was taken by another task and drawn again */
    bool openai_video;        /* came through POST /v1/videos: answered as OpenAI's video object */
};

/* Allocated in the request's memory pool: h2o disposes it with the request, which tells the pending
 * submission not to touch the request any more. */
typedef struct submission_link {
    pending_submission *submission;
} submission_link;

static void submission_free(pending_submission *submission)
{
    if (submission == NULL) return;
    task_record_clear(&submission->task);
    admission_clear(&submission->check);
    free(submission);
}

/* ---- answering ---- */

static void on_request_disposed(void *object)
{
    submission_link *link = object;
    if (link->submission) {
        link->submission->req = NULL;
        link->submission->link = NULL; /* this memory goes with the request */
    }
}

/* Detaches the submission from its request before answering (answering may dispose the request). */
static h2o_req_t *take_request(pending_submission *submission)
{
    if (submission->link) submission->link->submission = NULL;
    submission->link = NULL;
    h2o_req_t *req = submission->req;
    submission->req = NULL;
    return req;
}

/* The create answer (the seed's shape) for a task as it is now. */
static void send_created(h2o_req_t *req, const task_record *task, int estimated_seconds)
{
    task_state shown = task->state == TASK_SUBMITTING   ? TASK_PENDING
                       : task->state == TASK_FINALIZING ? TASK_PROCESSING
                                                        : task->state;
    char response[512];
    int length =
        snprintf(response, sizeof(response),
                 "{\"created\":%lld,\"id\":\"%s\",\"model\":\"%s\",\"object\":\"video.generation.task\","
                 "\"progress\":%d,\"status\":\"%s\",\"task_info\":{\"can_cancel\":%s,"
                 "\"estimated_time\":%d},\"type\":\"video\"}",
                 (long long)task->created_at, task->id, task->model, task->progress, task_state_name(shown),
                 task_state_is_terminal(task->state) ? "false" : "true",
                 task_state_is_terminal(task->state) ? 0 : estimated_seconds);
    http_send_json(req, 200, response, (size_t)length);
}

/* The create answer of POST /v1/videos: OpenAI's video object of the task as it is now. */
static void send_created_video(const api_thread *thread, h2o_req_t *req, const task_record *task)
{
    json_t *video = openai_video_object(task, thread->app->link_ttl_seconds);
    char *text = video ? json_dumps(video, JSON_COMPACT) : NULL;
    json_decref(video);
    if (text == NULL) {
        http_send_error_code(req, "internal_error", NULL, "The task was created but could not be shown.");
        return;
    }
    http_send_json(req, 200, text, strlen(text));
    free(text);
}

/* Answers a retry of an idempotent request with the task the first one created, in the shape of the API
 * it came through. */
static void send_existing(api_thread *thread, h2o_req_t *req, const char *task_id, bool openai_video)
{
    task_record task;
    if (store_task_get(thread->db, task_id, &task) != STORE_OK) {
        api_send_store_unavailable(req, "The task of this Idempotency-Key could not be read; retry later.");
        return;
    }
    const catalog_model *model = catalog_model_find(task.model);
    http_add_header(req, "idempotent-replayed", "true");
    if (openai_video)
        send_created_video(thread, req, &task);
    else
        send_created(req, &task, model ? model->estimated_seconds : 0);
    task_record_clear(&task);
}

static void send_idempotency_reused(h2o_req_t *req)
{
    http_send_error_code(
        req, "idempotency_key_reused", "Idempotency-Key",
        "This Idempotency-Key was used in the last 24 hours with a different request body; use a "
        "new key for a new request.");
}

static void answer_admitted(pending_submission *submission, store_status stored)
{
    api_thread *thread = submission->thread;
    h2o_req_t *req = take_request(submission);
    if (req == NULL) return;
    if (stored != STORE_OK) {
        /* A retry is safe: nothing was created, or — a COMMIT whose answer the lost connection took —
         * the task exists and a retry with the same Idempotency-Key answers it. */
        http_add_header(req, "retry-after", "1");
        http_send_error_code(req, "store_unavailable", NULL,
                             "The task could not be stored; retry later (with the same Idempotency-Key).");
        return;
    }
    const task_admission *admission = &submission->admission;
    const task_record *task = &submission->task;
    char message[300];
    switch (admission->outcome) {
    case ADMIT_CREATED:
        if (submission->openai_video)
            send_created_video(thread, req, task);
        else
            send_created(req, task, submission->estimated_seconds);
        return;
    case ADMIT_DUPLICATE:
        send_existing(thread, req, admission->existing_id, submission->openai_video);
        return;
    case ADMIT_IDEMPOTENCY_MISMATCH:
        send_idempotency_reused(req);
        return;
    case ADMIT_INSUFFICIENT_CREDITS:
        snprintf(message, sizeof(message),
                 "This task needs %lld credits and the key has %lld available; top up and retry.",
                 (long long)task->credits_reserved, (long long)admission->available);
        http_send_error_code(req, "insufficient_quota", NULL, "%s", message);
        return;
    case ADMIT_ID_TAKEN: /* drawn MAX_ID_DRAWS times, taken each time: something is wrong with ids */
        http_add_header(req, "retry-after", "1");
        http_send_error_code(req, "store_unavailable", NULL, "The task could not be stored; retry later.");
        return;
    case ADMIT_TOO_MANY_TASKS:
        snprintf(message, sizeof(message),
                 "This key may have %d unfinished tasks at once; wait for one to finish and retry.",
                 submission->check.key.max_concurrent);
        http_add_header(req, "retry-after", "5");
        api_add_rate_headers(req, submission->check.key.max_concurrent, 0, 5);
        http_send_error_code(req, "too_many_concurrent_tasks", NULL, "%s", message);
        return;
    }
}

/* ---- group commit ---- */

enum { MAX_ID_DRAWS = 3 };
static void queue_pending(api_thread *thread, pending_submission *submission);

/* After the commit (stored: its outcome): each admitted task is handed to the engine and every
 * submission is answered and freed. */
static void finish_submissions(api_thread *thread, pending_submission **submissions,
                               const task_admission *items, size_t count, store_status stored)
{
    for (size_t i = 0; i < count; i++) {
        pending_submission *submission = submissions[i];
        if (items) submission->admission = items[i];
        if (stored == STORE_OK && submission->admission.outcome == ADMIT_ID_TAKEN && submission->req &&
            submission->id_draws < MAX_ID_DRAWS) { /* nothing was stored: again, under a new id */
            submission->id_draws++;
            ids_task_new(submission->task.id, submission->task.created_at);
            queue_pending(thread, submission);
            continue;
        }
        if (stored == STORE_OK && submission->admission.outcome == ADMIT_CREATED) {
            engine_submit(thread->app->engine, submission->task.id, submission->task.deadline_at);
            log_info("task", "task=%s state=pending model=%s key=%s credits_reserved=%lld",
                     submission->task.id, submission->task.model, submission->task.key_id,
                     (long long)submission->task.credits_reserved);
        } else if (stored == STORE_ERROR && items != NULL) {
            /* A COMMIT whose answer was lost (the connection dropped) may have applied: this node would
             * then own a task nobody runs. The engine reads the task first and lets an absent one go. */
            engine_submit(thread->app->engine, submission->task.id, submission->task.deadline_at);
        }
        answer_admitted(submission, stored);
        submission_free(submission);
    }
}

/* The store's view of each pending submission, into items[0..count). */
static void fill_admissions(pending_submission *const *submissions, size_t count, task_admission *items)
{
    for (size_t i = 0; i < count; i++) {
        const pending_submission *submission = submissions[i];
        items[i] = (task_admission){.task = &submissions[i]->task,
                                    .idempotency_key = submission->idempotency_key,
                                    .max_concurrent = submission->check.key.max_concurrent};
        memcpy(items[i].request_hash, submission->request_hash, sizeof(items[i].request_hash));
    }
}

/* A batch on its way to the admission writer: its items and its submissions follow it in memory. */
typedef struct loop_batch {
    admission_batch batch;
    pending_submission **submissions;
} loop_batch;

/* The writer's answer for one batch, on this loop: finish it. */
static void on_admitted(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    api_thread *thread = (api_thread *)((char *)receiver - offsetof(api_thread, admitted));
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *message =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&message->link);
        loop_batch *sent = (loop_batch *)message; /* the message is the batch's first member */
        thread->batches_out--;
        finish_submissions(thread, sent->submissions, sent->batch.items, sent->batch.count,
                           sent->batch.stored);
        free(sent);
    }
}

/* Hands the thread's pending submissions to the admission writer; false (nothing handed) when memory
 * runs out. */
static bool send_to_writer(api_thread *thread)
{
    size_t count = thread->pending_count;
    loop_batch *sent =
        malloc(sizeof(*sent) + count * (sizeof(task_admission) + sizeof(pending_submission *)));
    if (sent == NULL) return false;
    if (!thread->admitted_ready) {
        h2o_multithread_register_receiver(thread->context->queue, &thread->admitted, on_admitted);
        thread->admitted_ready = true;
    }
    task_admission *items = (task_admission *)(sent + 1);
    sent->submissions = (pending_submission **)(items + count);
    memcpy(sent->submissions, thread->pending, count * sizeof(*thread->pending));
    fill_admissions(thread->pending, count, items);
    sent->batch = (admission_batch){.reply_to = &thread->admitted, .items = items, .count = count};
    thread->pending_count = 0;
    thread->batches_out++;
    admission_writer_send(thread->app->admission_writer, &sent->batch);
    return true;
}

/* Runs at the end of the event-loop iteration with every submission of the iteration. Normally they go
 * to the admission writer, which commits them with the other threads' (admission_writer.h) and sends
 * them back to be answered. Without a writer (or once the loop is stopping) one transaction admits them
 * here. A 200 is only sent after the commit. */
static void flush_submissions(h2o_timeout_entry_t *entry)
{
    api_thread *thread = (api_thread *)((char *)entry - offsetof(api_thread, flush_timer));
    if (thread->app->admission_writer && !thread->stopping && send_to_writer(thread)) return;
    size_t count = thread->pending_count;
    task_admission *items = malloc(count * sizeof(*items));
    store_status stored = STORE_ERROR;
    if (items != NULL) {
        fill_admissions(thread->pending, count, items);
        store *db = thread->app->admission_writer == NULL && thread->app->admission_db
                        ? thread->app->admission_db
                        : thread->db;
        /* a stopping loop waits: its timers are about to go, so it must not come back later */
        bool wait = thread->stopping || thread->flush_deferrals >= ADMISSION_MAX_DEFERRALS ||
                    !thread->retry_timeout_ready;
        stored = store_task_admit(db, items, count, wait);
        if (stored == STORE_CONFLICT && !wait) {
            /* another thread is committing: serve the loop meanwhile and come back with a larger batch */
            free(items);
            thread->flush_deferrals++;
            h2o_timeout_link(thread->context->loop, &thread->retry_timeout, &thread->flush_timer);
            return;
        }
    }
    thread->flush_deferrals = 0;
    /* the array is detached: finishing may queue a submission again (a new id) */
    pending_submission **batch = thread->pending;
    thread->pending = NULL;
    thread->pending_count = thread->pending_capacity = 0;
    finish_submissions(thread, batch, items, count, stored);
    free(batch);
    free(items);
}

/* Adds submission to the thread's pending ones and makes sure a flush comes at the end of the loop's
 * iteration (at once when the loop is stopping). */
static void queue_pending(api_thread *thread, pending_submission *submission)
{
    if (thread->pending_count == thread->pending_capacity) {
        size_t capacity = thread->pending_capacity ? thread->pending_capacity * 2 : 64;
        pending_submission **grown = realloc(thread->pending, capacity * sizeof(*grown));
        if (grown == NULL) {
            answer_admitted(submission, STORE_ERROR);
            submission_free(submission);
            return;
        }
        thread->pending = grown;
        thread->pending_capacity = capacity;
    }
    thread->pending[thread->pending_count++] = submission;
    if (thread->stopping) { /* the loop's timers are gone: admitted and answered at once */
        flush_submissions(&thread->flush_timer);
        return;
    }
    if (!h2o_timeout_is_linked(&thread->flush_timer)) {
        if (!thread->retry_timeout_ready) {
            h2o_timeout_init(thread->context->loop, &thread->retry_timeout, ADMISSION_RETRY_MS);
            thread->retry_timeout_ready = true;
        }
        thread->flush_timer.cb = flush_submissions;
        h2o_timeout_link(thread->context->loop, &thread->context->zero_timeout, &thread->flush_timer);
    }
}

static void enqueue_submission(api_thread *thread, h2o_req_t *req, pending_submission *submission)
{
    submission->req = req;
    submission->link = h2o_mem_alloc_shared(&req->pool, sizeof(submission_link), on_request_disposed);
    submission->link->submission = submission;
    thread->context = req->conn->ctx;
    queue_pending(thread, submission);
}

void api_generations_stopping(api_thread *thread)
{
    thread->stopping = true;
    if (h2o_timeout_is_linked(&thread->flush_timer)) {
        h2o_timeout_unlink(&thread->flush_timer);
        flush_submissions(&thread->flush_timer); /* stopping: committed here, waiting for the lock */
    }
    /* the batches at the writer come back (answered) before the loop goes */
    while (thread->batches_out > 0)
        h2o_evloop_run(thread->context->loop, 10);
    if (thread->admitted_ready) {
        h2o_multithread_unregister_receiver(thread->context->queue, &thread->admitted);
        thread->admitted_ready = false;
    }
    if (thread->retry_timeout_ready) {
        h2o_timeout_dispose(thread->context->loop, &thread->retry_timeout);
        thread->retry_timeout_ready = false;
    }
}

/* ---- after the inputs are known: limits, price, queue ---- */

/* admission_check.probed of a submission: checks the inputs' limits, prices the task and queues it for
 * the group commit. */
static void price_and_queue(h2o_req_t *req, admission_check *check)
{
    pending_submission *submission = (pending_submission *)check;
    if (req == NULL) { /* the client went away, or the server is stopping */
        submission_free(submission);
        return;
    }
    reelay_error err;
    price_quote quote;
    if (!admission_price(check, &quote, &err)) {
        http_send_error(req, &err);
        submission_free(submission);
        return;
    }
    task_record *task = &submission->task;
    if (submission->thread->app->prices) {
        task->credits_reserved = quote.credits;
        task->billing_json = price_quote_json(&quote);
        if (task->billing_json == NULL) {
            http_send_error_code(req, "internal_error", NULL, "The task could not be priced.");
            submission_free(submission);
            return;
        }
    }
    enqueue_submission(submission->thread, req, submission);
}

/* ---- the handler ---- */

bool api_read_idempotency_key(h2o_req_t *req, char out[STORE_IDEMPOTENCY_KEY_MAX + 1])
{
    out[0] = '\0';
    h2o_iovec_t value = http_request_header(req, "idempotency-key");
    if (value.base == NULL) return true;
    bool ok = value.len > 0 && value.len <= STORE_IDEMPOTENCY_KEY_MAX;
    for (size_t i = 0; ok && i < value.len; i++)
        ok = value.base[i] >= 0x20 && value.base[i] < 0x7f;
    if (!ok) {
        http_send_error_code(req, "invalid_idempotency_key", "Idempotency-Key",
                             "Idempotency-Key must be 1 to 255 printable ASCII characters.");
        return false;
    }
    memcpy(out, value.base, value.len);
    out[value.len] = '\0';
    return true;
}

bool api_request_hash(const json_t *params, unsigned char request_hash[32])
{
    char *canonical = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    if (canonical == NULL) return false;
    crypto_hash_sha256(request_hash, (const unsigned char *)canonical, strlen(canonical));
    free(canonical);
    return true;
}

bool api_answered_by_idempotency(api_thread *thread, h2o_req_t *req, const key_record *key,
                                 const char *idempotency_key, const unsigned char request_hash[32],
                                 bool openai_video)
{
    char existing[IDS_TASK_ID_SIZE];
    bool same = false;
    store_status found = store_idempotency_find(thread->db, key->id, idempotency_key, request_hash,
                                                clock_unix_seconds(), existing, &same);
    if (found != STORE_OK) return false;
    if (same)
        send_existing(thread, req, existing, openai_video);
    else
        send_idempotency_reused(req);
    return true;
}

/* Fills the new task of a submission: its id, owner, model, times and stored parameters; the advanced
 * options the client gave go into its upstream record, where the engine reads them (they restrict
 * routing). False when out of memory. */
static bool submission_fill_task(pending_submission *submission)
{
    const api_app *app = submission->thread->app;
    task_record *task = &submission->task;
    int64_t now = clock_unix_seconds();
    ids_task_new(task->id, now);
    snprintf(task->key_id, sizeof(task->key_id), "%s", submission->check.key.id);
    snprintf(task->model, sizeof(task->model), "%s", submission->check.model->id);
    snprintf(task->user_group, sizeof(task->user_group), "%s", submission->check.key.user_group);
    task->state = TASK_PENDING;
    task->created_at = task->updated_at = now;
    task->deadline_at = now + app->task_timeout_seconds;
    task->params_json = json_dumps(submission->check.params, JSON_COMPACT);
    json_t *advanced = submission->check.advanced;
    if (json_array_size(advanced) > 0) {
        json_t *record = json_pack("{s:O}", "advanced", advanced);
        task->upstream_json = record ? json_dumps(record, JSON_COMPACT) : NULL;
        json_decref(record);
    }
    return task->params_json != NULL;
}

/* The hash an Idempotency-Key of this submission is bound to: the given one, or that of the validated
 * parameters (and of the remixed video). False when out of memory. */
static bool submission_request_hash(pending_submission *submission, const api_admit_options *options)
{
    if (options->request_hash) {
        memcpy(submission->request_hash, options->request_hash, sizeof(submission->request_hash));
        return true;
    }
    if (!api_request_hash(submission->check.params, submission->request_hash)) return false;
    if (options->remixed_from == NULL) return true;
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, submission->request_hash, sizeof(submission->request_hash));
    crypto_hash_sha256_update(&state, (const unsigned char *)options->remixed_from,
                              strlen(options->remixed_from));
    crypto_hash_sha256_final(&state, submission->request_hash);
    return true;
}

void api_generations_admit(api_thread *thread, h2o_req_t *req, const key_record *key,
                           const char *idempotency_key, const json_t *body, const api_admit_options *options)
{
    bool openai_video = options->openai_video;
    pending_submission *submission = calloc(1, sizeof(*submission));
    if (submission == NULL) {
        http_send_error_code(req, "overloaded", NULL,
                             "The server is out of memory; nothing was created. Retry later.");
        return;
    }
    admission_check *check = &submission->check;
    *check = (admission_check){.thread = thread,
                               .key = *key,
                               .probed = price_and_queue,
                               .param_names = json_incref(options->param_names)};
    submission->thread = thread;
    submission->openai_video = openai_video;
    bool answered = !admission_validate(check, req, body);
    if (!answered && idempotency_key[0]) {
        if (!submission_request_hash(submission, options)) {
            http_send_error_code(req, "internal_error", NULL, "Out of memory.");
            answered = true;
        } else {
            answered = api_answered_by_idempotency(thread, req, key, idempotency_key,
                                                   submission->request_hash, openai_video);
        }
    }
    if (answered || !admission_route(check, req)) {
        submission_free(submission);
        return;
    }
    snprintf(submission->idempotency_key, sizeof(submission->idempotency_key), "%s", idempotency_key);
    submission->estimated_seconds = check->model->estimated_seconds;
    if (options->remixed_from)
        snprintf(submission->task.remixed_from, sizeof(submission->task.remixed_from), "%s",
                 options->remixed_from);
    if (!submission_fill_task(submission)) {
        submission_free(submission);
        http_send_error_code(req, "internal_error", NULL, "Out of memory.");
        return;
    }
    if (!admission_probe(check, req)) submission_free(submission);
}

void api_generations_create(http_exchange *exchange)
{
    h2o_req_t *req = exchange->req;
    key_record key;
    if (!api_authenticate(exchange, &key)) return;
    char idempotency_key[STORE_IDEMPOTENCY_KEY_MAX + 1];
    if (!api_read_idempotency_key(req, idempotency_key)) return;
    reelay_error err;
    json_t *body = api_parse_json_object(req, &err);
    if (body == NULL) {
        http_send_error(req, &err);
        return;
    }
    api_generations_admit(exchange->thread_data, req, &key, idempotency_key, body, &(api_admit_options){0});
    json_decref(body);
}
