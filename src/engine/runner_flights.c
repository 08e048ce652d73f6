/* runner_flights.c — a task's life on a provider channel (see runner_flights.h): how a flight starts
 * (or resumes), ends, is cancelled, nudged and woken; its steps are runner_steps.c's. */
#include "engine/runner_flights.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "engine/runner_channels.h"
#include "engine/runner_results.h"
#include "engine/runner_steps.h"
#include "util/clock.h"
#include "util/log.h"

/* ---- a flight's job and refusals ---- */

enum { JOB_FIELDS = 4 };

/* The job's fields in packing order, as (buffer, size) pairs of an upstream_job. */
#define JOB_FIELD_LIST(job)                                                                                  \
    {(job)->id, sizeof((job)->id)}, {(job)->status_url, sizeof((job)->status_url)},                          \
        {(job)->result_url, sizeof((job)->result_url)},                                                      \
    {                                                                                                        \
        (job)->cancel_url, sizeof((job)->cancel_url)                                                         \
    }

const char *flight_job_id(const flight *f)
{
    return f->job != NULL ? f->job : "";
}

void flight_job_get(const flight *f, upstream_job *out)
{
    struct {
        char *text;
        size_t size;
    } fields[JOB_FIELDS] = {JOB_FIELD_LIST(out)};
    const char *packed = f->job;
    for (int i = 0; i < JOB_FIELDS; i++) {
        /* each packed field came from a field of the same size, so it fits */
        snprintf(fields[i].text, fields[i].size, "%s", packed ? packed : "");
        if (packed) packed += strlen(packed) + 1;
    }
}

bool flight_job_set(flight *f, const upstream_job *job)
{
    if (job == NULL || job->id[0] == '\0') {
        free(f->job);
        f->job = NULL;
        return true;
    }
    struct {
        const char *text;
        size_t size;
    } fields[JOB_FIELDS] = {JOB_FIELD_LIST(job)};
    size_t lengths[JOB_FIELDS], total = 0;
    for (int i = 0; i < JOB_FIELDS; i++) {
        lengths[i] = strnlen(fields[i].text, fields[i].size - 1);
        total += lengths[i] + 1;
    }
    char *packed = malloc(total);
    if (packed == NULL) return false;
    char *at = packed;
    for (int i = 0; i < JOB_FIELDS; i++) {
        memcpy(at, fields[i].text, lengths[i]);
        at[lengths[i]] = '\0';
        at += lengths[i] + 1;
    }
    free(f->job);
    f->job = packed;
    return true;
}

flight_refusals *flight_refusals_of(flight *f)
{
    if (f->refusals == NULL) f->refusals = calloc(1, sizeof(*f->refusals));
    return f->refusals;
}

/* ---- ending a flight ---- */

static void transfer_abort(upstream_runner *r, flight *f)
{
    runner_lane_leave(r, f);
    if (f->transfer == NULL) return;
    if (upstream_transfer_active(f->transfer)) runner_request_ended(r, f);
    upstream_transfer_free(f->transfer, r->multi);
    f->transfer = NULL;
}

/* Frees f and everything it owns (it is followed no more). */
static void flight_free(flight *f)
{
    json_decref(f->params);
    json_decref(f->advanced);
    free(f->refusals);
    free(f->job);
    free(f->scratch);
    free(f);
}

void flight_drop(upstream_runner *r, flight *f)
{
    runner_timer_cancel(r, f);
    transfer_abort(r, f);
    result_download_abort(r, f); /* cancelled, timed out or stopping mid-download */
    release_slot(r, f);
    runner_untrack(r, f);
    flight_free(f);
}

void flight_fail(upstream_runner *r, flight *f, const char *code, const char *message)
{
    store_status failed = store_task_fail(r->db, f->task_id, code, message, clock_unix_seconds());
    if (failed == STORE_OK) {
        char detail[96];
        snprintf(detail, sizeof(detail), "code=%s", code);
        flight_log(f->task_id, "state=failed", f->channel[0] ? f->channel : "-", detail);
    } else if (failed == STORE_ERROR) {
        log_error("a task could not be failed; it resumes on the next start", "task=%s code=%s", f->task_id,
                  code);
    }
    flight_drop(r, f); /* failed, or finished meanwhile */
}

void flight_transfer_done(upstream_runner *r, flight *f, CURL *easy, CURLcode code)
{
    if (f->download != NULL && easy == fetch_transfer_easy(f->download)) {
        result_download_done(r, f, code);
        return;
    }
    assert(upstream_transfer_active(f->transfer) && easy == f->transfer->easy);
    upstream_transfer_result result;
    upstream_transfer_end(f->transfer, r->multi, code, &result);
    runner_request_ended(r, f);
    if (f->next_step == TASK_STEP_CANCEL) { /* a cancel's answer */
        log_info("upstream cancel answered", "task=%s status=%ld", f->task_id, result.status);
        flight_drop(r, f);
        return;
    }
    flight_answered(r, f, code, &result, clock_unix_ms()); /* it frees the transfer once read */
}

/* ---- starting, stopping, nudging ---- */

/* A new flight for task (f's fields from the task and its upstream record). NULL when out of memory. */
static flight *flight_new(upstream_runner *r, const task_record *task, json_t *record, int64_t now_ms)
{
    flight *f = calloc(1, sizeof(*f));
    if (f == NULL) return NULL;
    snprintf(f->task_id, sizeof(f->task_id), "%s", task->id);
    snprintf(f->model, sizeof(f->model), "%s", task->model);
    min_heap_node_init(&f->timer);
    f->started_ms = now_ms;
    f->poll_interval_ms =
        task_machine_first_poll_interval(r->config.poll_scale, false); /* set on acceptance */
    json_error_t error;
    f->params = task->params_json ? json_loads(task->params_json, 0, &error) : NULL;
    if (f->params == NULL) f->params = json_object();
    const catalog_model *model = catalog_model_find(task->model);
    f->estimated_seconds = model ? model->estimated_seconds : 60;
    f->advanced = json_incref(json_object_get(record, "advanced"));
    if (!json_is_array(f->advanced)) json_decref(f->advanced), f->advanced = json_array();
    json_t *tried = json_object_get(record, "tried");
    size_t i;
    json_t *name;
    json_array_foreach(tried, i, name)
    {
        flight_refusals *refusals = json_is_string(name) ? flight_refusals_of(f) : NULL;
        if (refusals == NULL && json_is_string(name)) {
            flight_free(f);
            return NULL;
        }
        if (refusals != NULL && refusals->tried_count < MAX_TRIED)
            snprintf(refusals->tried[refusals->tried_count++], sizeof(refusals->tried[0]), "%s",
                     json_string_value(name));
    }
    snprintf(f->channel, sizeof(f->channel), "%s", task->channel);
    json_t *since = json_object_get(record, "unknown_since_ms");
    f->unknown_since_ms = json_is_integer(since) ? json_integer_value(since) : 0;
    return f;
}

void flight_begin(upstream_runner *r, const char *task_id, int64_t now_ms)
{
    if (runner_flight_find(r, task_id) != NULL) return;
    task_record task;
    memset(&task, 0, sizeof(task));
    if (store_task_get(r->db, task_id, &task) != STORE_OK || task_state_is_terminal(task.state)) {
        task_record_clear(&task);
        return;
    }
    json_error_t error;
    json_t *record = task.upstream_json ? json_loads(task.upstream_json, 0, &error) : NULL;
    flight *f = flight_new(r, &task, record, now_ms);
    upstream_job job;
    bool have_job = upstream_job_from_json(json_object_get(record, "job"), &job);
    if (f == NULL || (have_job && !flight_job_set(f, &job)) || !runner_track(r, f)) {
        log_error("runner out of memory; the task resumes on the next start", "task=%s", task_id);
        if (f != NULL) flight_free(f);
        json_decref(record);
        task_record_clear(&task);
        return;
    }
    const char *phase = json_string_value(json_object_get(record, "phase"));
    routing_channel *c = f->channel[0] ? channel_named(r, f->channel, NULL) : NULL;
    if (task.state == TASK_PENDING ||
        (task.state == TASK_SUBMITTING && phase && strcmp(phase, "refused") == 0)) {
        f->channel[0] = '\0';
        f->unknown_since_ms = 0;
        flight_route(r, f, now_ms);
    } else if (c != NULL && c->provider != NULL && c->provider->runs_locally) {
        r->config.to_sandbox(r->config.sandbox_context, f->task_id, f->channel, task.deadline_at);
        flight_drop(r, f);
    } else if (task.state == TASK_SUBMITTING) {
        /* sent (or being sent) when we stopped: the job may exist */
        if (c) c->in_flight++, f->holds_slot = true;
        task_event resumed = {.kind = TASK_EVENT_RESUMED_UNKNOWN, .step = TASK_STEP_SUBMIT};
        flight_decide(r, f, &resumed, now_ms);
    } else if (have_job) {
        f->unknown_since_ms = 0;
        if (c) c->in_flight++, f->holds_slot = true;
        runner_schedule(r, f, TASK_STEP_POLL, now_ms);
    } else {
        flight_fail(r, f, "upstream_error", "The task's provider record was lost.");
    }
    json_decref(record);
    task_record_clear(&task);
}

void flight_cancel(upstream_runner *r, const char *task_id)
{
    flight *f = runner_flight_find(r, task_id);
    if (f == NULL) return;
    size_t index = 0;
    routing_channel *c = channel_named(r, f->channel, &index);
    if (c != NULL && c->provider != NULL && c->provider->build_cancel != NULL && flight_job_id(f)[0] &&
        !f->downloading) {
        /* fire and forget: the task is already cancelled here; the provider may still finish it */
        upstream_context ctx = {.base_url = c->record.base_url,
                                .credential = r->slots[index].credential,
                                .task_id = f->task_id,
                                .model = f->model,
                                .params = f->params,
                                .now = clock_unix_seconds(),
                                .auth = &r->slots[index].auth};
        upstream_request request;
        memset(&request, 0, sizeof(request));
        upstream_job job;
        flight_job_get(f, &job);
        if (c->provider->build_cancel(&ctx, &job, &request) == 0) {
            transfer_abort(r, f);
            runner_timer_cancel(r, f);
            f->next_step = TASK_STEP_CANCEL; /* its answer is only logged */
            char err[256] = "";
            f->transfer = upstream_transfer_start(r->multi, &request, c->record.base_url,
                                                  r->config.request_timeout_ms, f, err, sizeof(err));
            if (f->transfer != NULL) {
                runner_request_started(r, f); /* a cancel does not wait in the lane: it is rare */
                release_slot(r, f);
                flight_log(f->task_id, "cancel sent upstream", f->channel, flight_job_id(f));
                return;
            }
            log_warn("the cancel could not be sent upstream", "task=%s channel=%s reason=\"%s\"", f->task_id,
                     f->channel, err);
        }
        upstream_request_clear(&request);
    }
    if (f->downloading && f->download == NULL) { /* being stored: it finds the task cancelled */
        release_slot(r, f);
        return;
    }
    flight_drop(r, f);
}

void flight_poke(upstream_runner *r, flight *f, int64_t now_ms, bool job_ended)
{
    if (f == NULL) return;
    const routing_channel *c = channel_named(r, f->channel, NULL);
    bool at_end = c != NULL && c->provider != NULL && c->provider->webhooks_at_end;
    task_event poke = {.kind = TASK_EVENT_POKE, .job_ended = job_ended && at_end};
    flight_decide(r, f, &poke, now_ms);
}

void flight_due(upstream_runner *r, flight *f, int64_t now_ms)
{
    task_event due = {.kind = TASK_EVENT_DUE, .step = f->next_step};
    flight_decide(r, f, &due, now_ms);
}
