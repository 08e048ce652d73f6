/* runner_steps.c — what engine/task_machine.h decides, carried out for one flight (see
 * runner_steps.h): the requests sent, the channel chosen, the answers read, the task's upstream record
 * written before each step that depends on it. */
#include "engine/runner_steps.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runner_channels.h"
#include "engine/runner_flights.h"
#include "engine/runner_results.h"
#include "engine/task_view.h"
#include "util/clock.h"
#include "util/log.h"

/* What a provider's answer said, for the actions that use it. */
typedef struct answer {
    const upstream_provider *provider;
    const upstream_context *ctx;
    const upstream_outcome *out;
    const task_event *event;
} answer;

static void send_step(upstream_runner *r, flight *f, task_step what, int64_t now_ms);
static void send_now(upstream_runner *r, flight *f, task_step what, int64_t now_ms);
static void decide(upstream_runner *r, flight *f, const task_event *event, int64_t now_ms,
                   const answer *said);

void flight_log(const char *task_id, const char *what, const char *channel, const char *detail)
{
    log_info("task", "task=%s %s channel=%s%s%s", task_id, what, channel, detail[0] ? " " : "", detail);
}

/* ---- the task's upstream record ---- */

static char *upstream_record(const flight *f, const char *phase)
{
    json_t *record = json_object();
    json_object_set_new(record, "phase", json_string(phase));
    json_object_set_new(record, "channel", json_string(f->channel));
    if (f->job != NULL) {
        upstream_job job;
        flight_job_get(f, &job);
        json_object_set_new(record, "job", upstream_job_to_json(&job));
    }
    json_t *tried = json_array();
    for (int i = 0; f->refusals != NULL && i < f->refusals->tried_count; i++)
        json_array_append_new(tried, json_string(f->refusals->tried[i]));
    json_object_set_new(record, "tried", tried);
    if (json_array_size(f->advanced)) json_object_set(record, "advanced", f->advanced);
    if (f->unknown_since_ms)
        json_object_set_new(record, "unknown_since_ms", json_integer(f->unknown_since_ms));
    char *text = json_dumps(record, JSON_COMPACT);
    json_decref(record);
    return text;
}

/* Writes f's upstream record in `phase`, moving the task from → to (and to `channel` when not NULL):
 * the store's answer. CONFLICT means the task was finished meanwhile; an error is logged here. */
static store_status write_record(upstream_runner *r, const flight *f, const char *phase, task_state from,
                                 task_state to, const char *channel)
{
    char *record = upstream_record(f, phase);
    store_status stored =
        record ? store_task_set_upstream(r->db, f->task_id, from, to, channel, record, clock_unix_seconds())
               : STORE_ERROR;
    free(record);
    if (stored == STORE_ERROR)
        log_error("the task's provider record could not be written", "task=%s phase=%s", f->task_id, phase);
    return stored;
}

/* Writes f's "sending" record moving it from → submitting on its channel, taking one of the channel's
 * cap slots in the store (every node's tasks count: the cap holds for the cluster). CONFLICT with *full
 * when the channel is full elsewhere. */
static store_status write_sending_record(upstream_runner *r, const flight *f, task_state from, int cap,
                                         bool *full)
{
    *full = false;
    if (cap <= 0) return write_record(r, f, "sending", from, TASK_SUBMITTING, f->channel);
    char *record = upstream_record(f, "sending");
    store_status stored = record ? store_task_take_channel_slot(r->db, f->task_id, from, f->channel, cap,
                                                                record, clock_unix_seconds(), full)
                                 : STORE_ERROR;
    free(record);
    if (stored == STORE_ERROR)
        log_error("the task's provider record could not be written", "task=%s phase=sending", f->task_id);
    return stored;
}

/* ---- the facts the machine decides on, and its actions carried out ---- */

static task_facts facts_of(upstream_runner *r, const flight *f, int64_t now_ms)
{
    const routing_channel *c = channel_named(r, f->channel, NULL);
    const upstream_provider *provider = c ? c->provider : NULL;
    bool webhook_expected = provider != NULL && r->config.webhook_base != NULL &&
                            upstream_webhook_wanted(provider, c->record.webhook_secret_sealed[0] != '\0');
    return (task_facts){.now_ms = now_ms,
                        .poll_scale = r->config.poll_scale,
                        .poll_interval_ms = f->poll_interval_ms,
                        .estimated_seconds = f->estimated_seconds,
                        .unknown_since_ms = f->unknown_since_ms,
                        .unknown_grace_ms = r->config.unknown_grace_ms,
                        .last_forced_poll_ms = f->last_forced_poll_ms,
                        .busy = upstream_transfer_active(f->transfer) || f->downloading || f->lane_waiting,
                        .waiting_for = f->next_step,
                        .can_look_up = provider != NULL && provider->build_lookup != NULL,
                        .has_result_document = provider != NULL && provider->build_result != NULL,
                        .webhook_expected = webhook_expected,
                        .lookup_is_submit = provider != NULL && provider->lookup_is_submit,
                        .tried_count = f->refusals ? f->refusals->tried_count : 0,
                        .last_error_code = f->refusals ? f->refusals->last_error_code : "",
                        .last_error_message = f->refusals ? f->refusals->last_error_message : ""};
}

/* The submission is in doubt from now on: recorded, so that a restart looks it up too. False when the
 * task was finished meanwhile (f is then dropped). */
static bool start_unknown(upstream_runner *r, flight *f, const task_action *action)
{
    f->unknown_since_ms = action->unknown_since_ms;
    store_status stored = write_record(r, f, "unknown", TASK_SUBMITTING, TASK_SUBMITTING, NULL);
    if (stored == STORE_CONFLICT || stored == STORE_NOT_FOUND) {
        flight_drop(r, f);
        return false;
    }
    log_warn("submission unknown: the provider may have the job", "task=%s channel=%s reason=\"%s\"",
             f->task_id, f->channel, action->unknown_reason ? action->unknown_reason : "");
    return true;
}

static void set_progress(upstream_runner *r, flight *f, int progress, int64_t now_ms)
{
    if (progress < 0) { /* the provider gives none: estimate from the model's usual duration */
        double elapsed = (double)(now_ms - f->started_ms) / 1000.0;
        double usual = f->estimated_seconds > 0 ? f->estimated_seconds * r->config.poll_scale : 60;
        progress = (int)(90.0 * elapsed / (usual > 0.1 ? usual : 0.1));
        if (progress > 90) progress = 90;
    }
    /* a scheduled poll that moves nothing writes nothing (a task waiting past its usual duration, or on
     * a webhook's fallback polls, stays at 90 %); a poke's answer is written (it touches updated_at: a
     * client's ?sync_upstream waits for that) */
    bool poked = f->poked;
    f->poked = false;
    if (progress <= f->progress_written && !poked) return;
    /* CONFLICT: finished meanwhile; a cancel, if that is what it was, arrives through the inbox */
    store_status stored = store_task_set_progress(r->db, f->task_id, progress, clock_unix_seconds());
    if (stored == STORE_OK) f->progress_written = progress;
    if (stored == STORE_ERROR) log_warn("a task's progress could not be recorded", "task=%s", f->task_id);
}

/* The job exists upstream: remember it and start polling. False when the task was finished meanwhile
 * (f is then dropped: the job runs for nothing). */
static bool job_accepted(upstream_runner *r, flight *f, const task_action *action, int64_t now_ms)
{
    f->unknown_since_ms = 0;
    if (write_record(r, f, "accepted", TASK_SUBMITTING, TASK_PROCESSING, NULL) != STORE_OK) {
        flight_drop(r, f);
        return false;
    }
    flight_log(f->task_id, "state=processing", f->channel, flight_job_id(f));
    f->started_ms = now_ms;
    f->poll_interval_ms = action->poll_interval_ms;
    runner_schedule(r, f, TASK_STEP_POLL, action->at_ms);
    return true;
}

/* This channel will not run the task: remember why and route it to the next one. */
static void next_channel(upstream_runner *r, flight *f, const task_action *action, int64_t now_ms)
{
    flight_refusals *refusals = flight_refusals_of(f);
    if (refusals == NULL) { /* without the list of refusals, routing could pick this channel forever */
        flight_fail(r, f, action->error_code, action->error_message);
        return;
    }
    snprintf(refusals->last_error_code, sizeof(refusals->last_error_code), "%s", action->error_code);
    snprintf(refusals->last_error_message, sizeof(refusals->last_error_message), "%s", action->error_message);
    if (refusals->tried_count < MAX_TRIED)
        snprintf(refusals->tried[refusals->tried_count++], sizeof(refusals->tried[0]), "%s", f->channel);
    if (action->refused) {
        char detail[600];
        snprintf(detail, sizeof(detail), "code=%s message=\"%s\"", refusals->last_error_code,
                 refusals->last_error_message);
        flight_log(f->task_id, "refused", f->channel, detail);
    }
    release_slot(r, f);
    if (action->refused) {
        store_status stored = write_record(r, f, "refused", TASK_SUBMITTING, TASK_SUBMITTING, NULL);
        if (stored == STORE_CONFLICT || stored == STORE_NOT_FOUND) { /* finished meanwhile */
            flight_drop(r, f);
            return;
        }
    }
    flight_route(r, f, now_ms);
}

static void throttle(upstream_runner *r, flight *f, const task_action *action, int64_t now_ms)
{
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && c->throttled_until_ms < action->at_ms) c->throttled_until_ms = action->at_ms;
    flight_log(f->task_id, "throttled", f->channel, "");
    release_slot(r, f);
    flight_route(r, f, now_ms); /* another channel now, or this one when the throttle ends */
}

/* The action's side effects, in the order task_machine.h gives. False when f is gone. */
static bool apply_effects(upstream_runner *r, flight *f, const task_action *action, int64_t now_ms)
{
    routing_channel *c = channel_named(r, f->channel, NULL);
    if (c != NULL && action->channel_failure) routing_record_failure(c, now_ms);
    if (c != NULL && action->channel_success) routing_record_success(c);
    if (action->forget_unknown) f->unknown_since_ms = 0;
    if (action->start_unknown && !start_unknown(r, f, action)) return false;
    if (action->forced) {
        f->last_forced_poll_ms = now_ms;
        f->poked = true;
    }
    return true;
}

/* Carries out the machine's action for f; f may be gone afterwards. said: the answer it came from. */
static void apply(upstream_runner *r, flight *f, const task_action *action, int64_t now_ms,
                  const answer *said)
{
    if (!apply_effects(r, f, action, now_ms)) return;
    switch (action->kind) {
    case TASK_ACTION_NONE:
        return;
    case TASK_ACTION_SCHEDULE:
        if (action->poll_interval_ms > 0) f->poll_interval_ms = action->poll_interval_ms;
        if (action->report_progress) set_progress(r, f, said ? said->out->progress : -1, now_ms);
        runner_schedule(r, f, action->step, action->at_ms);
        return;
    case TASK_ACTION_SEND:
        send_step(r, f, action->step, now_ms);
        return;
    case TASK_ACTION_ROUTE:
        flight_route(r, f, now_ms);
        return;
    case TASK_ACTION_ROUTE_LATER:
        flight_log(f->task_id, "submit never left; routing again", f->channel,
                   said && said->event->error_message ? said->event->error_message : "");
        release_slot(r, f);
        runner_schedule(r, f, TASK_STEP_ROUTE, action->at_ms);
        return;
    case TASK_ACTION_ACCEPT:
        if (action->then_job_state)
            flight_log(f->task_id, "look-up found the job", f->channel, flight_job_id(f));
        if (!job_accepted(r, f, action, now_ms) || !action->then_job_state || said == NULL) return;
        task_event state = *said->event;
        state.kind = TASK_EVENT_JOB_STATE;
        state.step = TASK_STEP_POLL; /* what the look-up said, read as a poll's answer */
        decide(r, f, &state, now_ms, said);
        return;
    case TASK_ACTION_DOWNLOAD:
        assert(said != NULL);
        result_download_start(r, f, said->provider, said->ctx, said->out);
        return;
    case TASK_ACTION_NEXT_CHANNEL:
        next_channel(r, f, action, now_ms);
        return;
    case TASK_ACTION_THROTTLE:
        throttle(r, f, action, now_ms);
        return;
    case TASK_ACTION_RESUBMIT:
        /* the provider never made the job: sending it again cannot duplicate it */
        f->unknown_since_ms = 0;
        flight_job_set(f, NULL);
        flight_log(f->task_id, "look-up: no job upstream, submitting again", f->channel, "");
        send_step(r, f, TASK_STEP_SUBMIT, now_ms);
        return;
    case TASK_ACTION_FAIL:
        flight_fail(r, f, action->error_code, action->error_message);
        return;
    }
}

static void decide(upstream_runner *r, flight *f, const task_event *event, int64_t now_ms, const answer *said)
{
    task_facts facts = facts_of(r, f, now_ms);
    task_action action = task_machine_next(event, &facts);
    apply(r, f, &action, now_ms, said);
}

/* ---- steps ---- */

/* Keeps *job as f's job when an adapter changed it (f's unpacked job was *before). False when out of memory
 * (f keeps the old one). */
static bool keep_job_if_changed(flight *f, const upstream_job *before, const upstream_job *job)
{
    bool same = strcmp(before->id, job->id) == 0 && strcmp(before->status_url, job->status_url) == 0 &&
                strcmp(before->result_url, job->result_url) == 0 &&
                strcmp(before->cancel_url, job->cancel_url) == 0;
    return same || flight_job_set(f, job);
}

/* Sends `what` for f now when its channel's lane has room, else f waits its turn there. */
static void send_step(upstream_runner *r, flight *f, task_step what, int64_t now_ms)
{
    if (!runner_lane_open(r, f) && runner_lane_wait(r, f, what)) return; /* out of memory: send anyway */
    send_now(r, f, what, now_ms);
}

void flight_send_waiting(upstream_runner *r, flight *f, int64_t now_ms)
{
    send_now(r, f, f->next_step, now_ms);
}

/* Builds `what`'s request for f's channel and starts it. */
static void send_now(upstream_runner *r, flight *f, task_step what, int64_t now_ms)
{
    upstream_context ctx;
    const upstream_provider *provider = NULL;
    char webhook[UPSTREAM_URL_SIZE];
    task_event event = {.step = what};
    if (!make_context(r, f, &ctx, &provider, webhook, sizeof(webhook))) {
        event.kind = TASK_EVENT_CHANNEL_GONE;
        decide(r, f, &event, now_ms, NULL);
        return;
    }
    upstream_request request;
    memset(&request, 0, sizeof(request));
    upstream_job job, before;
    flight_job_get(f, &job);
    int built = -1;
    char err[256] = "";
    switch (what) {
    case TASK_STEP_SUBMIT:
        built = provider->build_submit(&ctx, &request, err, sizeof(err));
        break;
    case TASK_STEP_LOOKUP:
        before = job;
        built = provider->build_lookup ? provider->build_lookup(&ctx, &request, &job) : -1;
        if (built == 0 && !keep_job_if_changed(f, &before, &job)) {
            snprintf(err, sizeof(err), "out of memory");
            built = -1;
        }
        break;
    case TASK_STEP_POLL:
        built = provider->build_poll(&ctx, &job, &request);
        break;
    case TASK_STEP_RESULT:
        built = provider->build_result ? provider->build_result(&ctx, &job, &request) : -1;
        break;
    default:
        break;
    }
    if (built != 0) {
        upstream_request_clear(&request);
        event.kind = TASK_EVENT_NOT_BUILT;
        event.error_message = err;
        decide(r, f, &event, now_ms, NULL);
        return;
    }
    f->next_step = what;
    int64_t timeout = what == TASK_STEP_SUBMIT || (what == TASK_STEP_LOOKUP && provider->lookup_is_submit)
                          ? r->config.submit_timeout_ms
                          : r->config.request_timeout_ms;
    f->transfer = upstream_transfer_start(r->multi, &request, ctx.base_url, timeout, f, err, sizeof(err));
    if (f->transfer == NULL) {
        log_warn("a provider request could not be sent", "task=%s channel=%s reason=\"%s\"", f->task_id,
                 f->channel, err);
        event.kind = TASK_EVENT_NOT_SENT;
        decide(r, f, &event, now_ms, NULL);
        return;
    }
    runner_timer_cancel(r, f);
    runner_request_started(r, f);
}

/* Chooses a channel for f and submits it there (or hands it to the sandbox). */
void flight_route(upstream_runner *r, flight *f, int64_t now_ms)
{
    release_slot(r, f); /* a slot on a channel that vanished under the task, if any */
    if (now_ms - r->channels_loaded_ms > CHANNEL_RELOAD_MS) channels_reload(r, now_ms);
    const char *tried[MAX_TRIED + 1];
    int tried_count = f->refusals ? f->refusals->tried_count : 0;
    for (int i = 0; i < tried_count; i++)
        tried[i] = f->refusals->tried[i];
    tried[tried_count] = NULL;
    size_t chosen = 0;
    int64_t retry_at = 0;
    routing_verdict verdict = routing_choose(r->channels, r->channel_count, f->model, f->advanced, tried,
                                             now_ms, randombytes_random(), &chosen, &retry_at);
    task_event event = {
        .kind = TASK_EVENT_ROUTED, .step = TASK_STEP_ROUTE, .routing = verdict, .retry_at_ms = retry_at};
    task_facts facts = facts_of(r, f, now_ms);
    task_action action = task_machine_next(&event, &facts);
    if (action.kind != TASK_ACTION_SEND) {
        apply(r, f, &action, now_ms, NULL);
        return;
    }
    routing_channel *c = &r->channels[chosen];
    snprintf(f->channel, sizeof(f->channel), "%s", c->record.name);
    int64_t now = clock_unix_seconds();
    task_record task;
    memset(&task, 0, sizeof(task));
    if (store_task_get(r->db, f->task_id, &task) != STORE_OK || task_state_is_terminal(task.state)) {
        task_record_clear(&task);
        flight_drop(r, f);
        return;
    }
    task_state from = task.state;
    int64_t deadline_at = task.deadline_at;
    task_record_clear(&task);
    if (c->provider->runs_locally) {
        if (c->trial_in_flight) routing_record_success(c); /* the sandbox is local: no trial needed */
        if (store_task_set_upstream(r->db, f->task_id, from, TASK_SUBMITTING, f->channel,
                                    "{\"phase\":\"" TASK_PHASE_LOCAL "\"}", now) == STORE_OK)
            r->config.to_sandbox(r->config.sandbox_context, f->task_id, f->channel, deadline_at);
        flight_drop(r, f);
        return;
    }
    assert(!f->holds_slot); /* a task holds at most one channel's slot */
    c->in_flight++;
    f->holds_slot = true;
    /* Written before the request leaves: after a crash from here on, the task is "submission unknown". */
    bool full = false;
    store_status sending = write_sending_record(r, f, from, c->record.max_concurrent, &full);
    if (full) { /* this node's count had room, the cluster's has not: route again soon */
        release_slot(r, f);
        c->trial_in_flight = false; /* a half-open channel's trial did not happen */
        f->channel[0] = '\0';
        task_event busy = {.kind = TASK_EVENT_ROUTED,
                           .step = TASK_STEP_ROUTE,
                           .routing = ROUTING_BUSY,
                           .retry_at_ms = now_ms + CLUSTER_SLOT_RETRY_MS};
        task_action wait = task_machine_next(&busy, &facts);
        apply(r, f, &wait, now_ms, NULL);
        return;
    }
    if (sending != STORE_OK) {
        flight_drop(r,
                    f); /* finished meanwhile (cancelled, timed out), or not recorded: resumes on restart */
        return;
    }
    flight_log(f->task_id, "state=submitting", f->channel, "");
    send_step(r, f, TASK_STEP_SUBMIT, now_ms);
}

/* ---- answers ---- */

/* A provider answered f's request (or libcurl failed it): read the answer, decide, act. */
void flight_answered(upstream_runner *r, flight *f, CURLcode code, const upstream_transfer_result *result,
                     int64_t now_ms)
{
    task_step what = f->next_step;
    task_event event = {.step = what};
    upstream_context ctx;
    const upstream_provider *provider = NULL;
    char webhook[UPSTREAM_URL_SIZE], why[160];
    if (!make_context(r, f, &ctx, &provider, webhook, sizeof(webhook))) {
        upstream_transfer_free(f->transfer, r->multi);
        f->transfer = NULL;
        event.kind = TASK_EVENT_CHANNEL_LOST;
        decide(r, f, &event, now_ms, NULL);
        return;
    }
    upstream_outcome out;
    memset(&out, 0, sizeof(out));
    out.progress = -1;
    upstream_job job, before;
    flight_job_get(f, &job);
    before = job;
    if (code != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(code));
        event.kind = TASK_EVENT_TRANSPORT_FAILED;
        event.connect_failed = result->connect_failed;
        event.never_left = result->never_left;
        event.error_message = why;
    } else if (what == TASK_STEP_SUBMIT || (what == TASK_STEP_LOOKUP && provider->lookup_is_submit)) {
        provider->parse_submit(&ctx, &result->response, &job, &out);
        event.kind = TASK_EVENT_SUBMIT_ANSWERED;
        if (!keep_job_if_changed(f, &before, &job)) { /* the job may exist, but it cannot be remembered */
            out.verdict = UPSTREAM_AMBIGUOUS;
            snprintf(out.error_message, sizeof(out.error_message), "out of memory");
        }
    } else if (what == TASK_STEP_RESULT) {
        provider->parse_result(&ctx, &result->response, &out);
        event.kind = TASK_EVENT_JOB_STATE;
    } else {
        assert(what == TASK_STEP_LOOKUP || what == TASK_STEP_POLL);
        provider->parse_poll(&ctx, &result->response, &job, &out);
        event.kind = TASK_EVENT_JOB_STATE;
        if (!keep_job_if_changed(f, &before, &job)) out.phase = UPSTREAM_JOB_RETRY; /* ask again later */
    }
    if (event.kind != TASK_EVENT_TRANSPORT_FAILED) {
        event.verdict = out.verdict;
        event.phase = out.phase;
        event.http_status = result->status;
        event.retry_after_ms = out.retry_after_ms;
        event.error_code = out.error_code;
        event.error_message = out.error_message;
    }
    upstream_transfer_free(f->transfer, r->multi); /* the answer is read */
    f->transfer = NULL;
    answer said = {.provider = provider, .ctx = &ctx, .out = &out, .event = &event};
    decide(r, f, &event, now_ms, &said);
}

void flight_decide(upstream_runner *r, flight *f, const task_event *event, int64_t now_ms)
{
    decide(r, f, event, now_ms, NULL);
}
