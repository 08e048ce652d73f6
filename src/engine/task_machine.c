/* task_machine.c — the upstream runner's decisions (see task_machine.h): one function per kind of
 * event, each a small table of cases, all pure. */
#include "engine/task_machine.h"

#include <stddef.h>

enum {
    FIRST_POLL_INTERVAL_MS = 2000, /* the back-off's start... */
    MAX_POLL_INTERVAL_MS = 30000,  /* ...and its ceiling */
    /* ...and when a webhook is expected: polls are then the fallback of a lost one, so that 100,000 tasks
     * waiting on providers that call back cost a few hundred polls a second */
    WEBHOOK_FIRST_POLL_INTERVAL_MS = 30000,
    WEBHOOK_MAX_POLL_INTERVAL_MS = 300000,
    RETRY_MS = 2000,             /* a failed send, an unreadable result, the next look-up */
    THROTTLE_DEFAULT_MS = 2000,  /* a 429 without Retry-After */
    NEVER_LEFT_RETRY_MS = 1000,  /* a submission that never left, routed again (not scaled) */
    BUSY_RETRY_MIN_MS = 50,      /* routing again when every channel is busy, at the soonest */
    POKE_MIN_INTERVAL_MS = 1000, /* forced polls per task, at most one a second */
};

static const char CHANNEL_REMOVED[] = "The channel this task ran on was removed.";
static const char NOT_BUILT[] = "The request to the provider could not be built.";
static const char CANNOT_TAKE[] = "The provider cannot take these parameters.";
static const char NOT_SENT[] = "The request could not be sent.";
static const char JOB_LOST[] = "The provider no longer knows this job.";
static const char GRACE_OVER[] = "The provider did not answer the submission and the job could not be found; "
                                 "the task was not submitted again.";
static const char NO_OPTIONS[] = "No enabled channel honours the advanced options given.";
static const char NO_CHANNEL[] = "No enabled channel serves this model.";

int64_t task_machine_scaled(double scale, int64_t ms)
{
    int64_t value = (int64_t)((double)ms * scale);
    return value < 20 ? 20 : value;
}

int64_t task_machine_first_poll_interval(double scale, bool webhook_expected)
{
    return task_machine_scaled(scale,
                               webhook_expected ? WEBHOOK_FIRST_POLL_INTERVAL_MS : FIRST_POLL_INTERVAL_MS);
}

static bool has_text(const char *text)
{
    return text != NULL && text[0] != '\0';
}

static task_action act(task_action_kind kind)
{
    return (task_action){.kind = kind};
}

static task_action fail(const char *code, const char *message)
{
    task_action action = act(TASK_ACTION_FAIL);
    action.error_code = code;
    action.error_message = message;
    return action;
}

static task_action schedule(task_step step, int64_t at_ms)
{
    task_action action = act(TASK_ACTION_SCHEDULE);
    action.step = step;
    action.at_ms = at_ms;
    return action;
}

static task_action send(task_step step)
{
    task_action action = act(TASK_ACTION_SEND);
    action.step = step;
    return action;
}

/* The next poll: the interval in force (or the provider's longer wish), and a longer interval after. */
static task_action next_poll(const task_facts *facts, int64_t wish_ms)
{
    int64_t delay = facts->poll_interval_ms > wish_ms ? facts->poll_interval_ms : wish_ms;
    task_action action = schedule(TASK_STEP_POLL, facts->now_ms + delay);
    int64_t longer = facts->poll_interval_ms * 3 / 2,
            ceiling =
                task_machine_scaled(facts->poll_scale, facts->webhook_expected ? WEBHOOK_MAX_POLL_INTERVAL_MS
                                                                               : MAX_POLL_INTERVAL_MS);
    action.poll_interval_ms = longer > ceiling ? ceiling : longer;
    return action;
}

/* The submission is in doubt: look it up (soon when the provider can, else when the grace period ends,
 * leaving the time to a webhook), or fail once the grace period is over. can_look_up is the provider's
 * ability as far as this event knows. */
static task_action unknown(const task_facts *facts, bool can_look_up, const char *why)
{
    bool starts = facts->unknown_since_ms == 0;
    int64_t since = starts ? facts->now_ms : facts->unknown_since_ms;
    task_action action;
    if (facts->now_ms - since >= facts->unknown_grace_ms)
        action = fail("upstream_error", GRACE_OVER);
    else if (can_look_up)
        action = schedule(TASK_STEP_LOOKUP, facts->now_ms + task_machine_scaled(facts->poll_scale, RETRY_MS));
    else
        action = schedule(TASK_STEP_LOOKUP, since + facts->unknown_grace_ms);
    action.start_unknown = starts;
    action.unknown_since_ms = since;
    action.unknown_reason = why;
    return action;
}

static task_action next_channel(bool refused, const char *code, const char *message)
{
    task_action action = act(TASK_ACTION_NEXT_CHANNEL);
    action.refused = refused;
    action.error_code = has_text(code) ? code : "upstream_error";
    action.error_message = message != NULL ? message : "";
    return action;
}

static task_action accept(const task_facts *facts)
{
    task_action action = act(TASK_ACTION_ACCEPT);
    /* the first look near the model's usual duration (its end, when the provider will call back): asking
     * earlier only costs requests */
    int64_t usual_ms = (int64_t)facts->estimated_seconds * 1000;
    action.at_ms = facts->now_ms +
                   task_machine_scaled(facts->poll_scale, facts->webhook_expected ? usual_ms : usual_ms / 2);
    action.poll_interval_ms = task_machine_first_poll_interval(facts->poll_scale, facts->webhook_expected);
    return action;
}

/* A job's phase as the provider reported it (a poll, a result document, a look-up that found it). */
static task_action job_state(const task_event *event, const task_facts *facts)
{
    task_action action;
    switch (event->phase) {
    case UPSTREAM_JOB_QUEUED:
    case UPSTREAM_JOB_RUNNING:
        action = next_poll(facts, event->retry_after_ms);
        action.report_progress = true;
        return action;
    case UPSTREAM_JOB_FETCH_RESULT:
        return send(TASK_STEP_RESULT);
    case UPSTREAM_JOB_SUCCEEDED:
        return act(TASK_ACTION_DOWNLOAD);
    case UPSTREAM_JOB_FAILED:
        return fail(has_text(event->error_code) ? event->error_code : "generation_failed",
                    event->error_message != NULL ? event->error_message : "");
    case UPSTREAM_JOB_LOST:
        return fail("upstream_error", JOB_LOST);
    case UPSTREAM_JOB_RETRY:
        return next_poll(facts, event->retry_after_ms);
    }
    return next_poll(facts, event->retry_after_ms);
}

/* The answer to a look-up that is not a replayed submit: the job was found (or not). */
static task_action looked_up(const task_event *event, const task_facts *facts)
{
    if (event->phase == UPSTREAM_JOB_LOST) /* the provider never made it: sending it again is safe */
        return act(TASK_ACTION_RESUBMIT);
    if (event->phase == UPSTREAM_JOB_RETRY)
        return unknown(facts, facts->can_look_up, "look-up answer unreadable");
    task_action action = accept(facts);
    action.then_job_state = true;
    return action;
}

static task_action submit_answered(const task_event *event, const task_facts *facts)
{
    bool lookup = event->step == TASK_STEP_LOOKUP;
    task_action action;
    switch (event->verdict) {
    case UPSTREAM_ACCEPTED:
        action = accept(facts);
        action.channel_success = true;
        return action;
    case UPSTREAM_REFUSED:
        action = next_channel(true, event->error_code, event->error_message);
        action.channel_failure =
            event->http_status >= 500 || event->http_status == 401 || event->http_status == 403;
        action.forget_unknown = lookup; /* the replay says: no such job was made */
        return action;
    case UPSTREAM_THROTTLED:
        if (lookup) return unknown(facts, facts->can_look_up, "throttled during look-up");
        action = act(TASK_ACTION_THROTTLE);
        action.at_ms =
            facts->now_ms + (event->retry_after_ms > 0 ? event->retry_after_ms : THROTTLE_DEFAULT_MS);
        return action;
    case UPSTREAM_AMBIGUOUS:
        break;
    }
    return unknown(facts, facts->can_look_up, event->error_message);
}

static task_action transport_failed(const task_event *event, const task_facts *facts)
{
    bool submit = event->step == TASK_STEP_SUBMIT;
    bool submit_like = submit || (event->step == TASK_STEP_LOOKUP && facts->lookup_is_submit);
    task_action action;
    if (submit && event->never_left && !event->connect_failed) {
        /* it timed out waiting for a connection of ours: the provider never saw it, and nobody refused
         * it — route it again shortly, on this channel or another */
        action = act(TASK_ACTION_ROUTE_LATER);
        action.at_ms = facts->now_ms + NEVER_LEFT_RETRY_MS;
        return action;
    }
    if (submit && event->connect_failed) { /* nothing reached the provider */
        action = next_channel(true, "upstream_error", event->error_message);
        action.channel_failure = true;
        return action;
    }
    if (submit_like) {
        action = unknown(facts, facts->can_look_up, event->error_message);
        action.channel_failure = true;
        return action;
    }
    if (event->step == TASK_STEP_LOOKUP) return unknown(facts, facts->can_look_up, event->error_message);
    action = next_poll(facts, 0);
    action.channel_failure = true;
    return action;
}

static task_action routed(const task_event *event, const task_facts *facts)
{
    switch (event->routing) {
    case ROUTING_CHOSEN:
        return send(TASK_STEP_SUBMIT);
    case ROUTING_BUSY:
        return schedule(TASK_STEP_ROUTE, event->retry_at_ms < facts->now_ms + BUSY_RETRY_MIN_MS
                                             ? facts->now_ms + BUSY_RETRY_MIN_MS
                                             : event->retry_at_ms);
    case ROUTING_NO_CHANNEL:
    case ROUTING_UNSUPPORTED:
        break;
    }
    if (facts->tried_count > 0 && has_text(facts->last_error_code))
        return fail(facts->last_error_code,
                    facts->last_error_message != NULL ? facts->last_error_message : "");
    if (event->routing == ROUTING_UNSUPPORTED) return fail("unsupported_advanced_options", NO_OPTIONS);
    return fail("no_available_channel", NO_CHANNEL);
}

static task_action due(const task_event *event, const task_facts *facts)
{
    switch (event->step) {
    case TASK_STEP_ROUTE:
        return act(TASK_ACTION_ROUTE);
    case TASK_STEP_LOOKUP:
        if (facts->now_ms - facts->unknown_since_ms >= facts->unknown_grace_ms || !facts->can_look_up)
            return unknown(facts, facts->can_look_up, "grace period over");
        return send(TASK_STEP_LOOKUP);
    default:
        return send(event->step);
    }
}

static task_action poked(const task_event *event, const task_facts *facts)
{
    if (facts->busy || facts->now_ms - facts->last_forced_poll_ms < POKE_MIN_INTERVAL_MS)
        return act(TASK_ACTION_NONE);
    task_action action = act(TASK_ACTION_NONE);
    if (facts->waiting_for == TASK_STEP_POLL && event->job_ended && facts->has_result_document)
        action = send(TASK_STEP_RESULT); /* the job ended: its result document says how, one request sooner */
    else if (facts->waiting_for == TASK_STEP_POLL)
        action = schedule(TASK_STEP_POLL, facts->now_ms);
    else if (facts->waiting_for == TASK_STEP_LOOKUP && facts->unknown_since_ms != 0)
        action = schedule(TASK_STEP_LOOKUP, facts->now_ms); /* a webhook for a submission we lost track of */
    action.forced = action.kind != TASK_ACTION_NONE;
    return action;
}

/* A step that could not be sent: before sending, nothing is in doubt. */
static task_action not_sent(const task_event *event, const task_facts *facts)
{
    bool submit = event->step == TASK_STEP_SUBMIT;
    switch (event->kind) {
    case TASK_EVENT_CHANNEL_GONE: /* removed or disabled under us: route again, or give up */
        if (submit || event->step == TASK_STEP_ROUTE) return act(TASK_ACTION_ROUTE);
        return fail("upstream_error", CHANNEL_REMOVED);
    case TASK_EVENT_NOT_BUILT:
        if (submit)
            return fail("invalid_parameters",
                        has_text(event->error_message) ? event->error_message : CANNOT_TAKE);
        return fail("upstream_error", NOT_BUILT);
    default: /* NOT_SENT: nothing was sent, so this channel's refusal is definite */
        if (submit) return next_channel(false, "upstream_error", NOT_SENT);
        return schedule(event->step, facts->now_ms + task_machine_scaled(facts->poll_scale, RETRY_MS));
    }
}

task_action task_machine_next(const task_event *event, const task_facts *facts)
{
    switch (event->kind) {
    case TASK_EVENT_DUE:
        return due(event, facts);
    case TASK_EVENT_POKE:
        return poked(event, facts);
    case TASK_EVENT_ROUTED:
        return routed(event, facts);
    case TASK_EVENT_CHANNEL_GONE:
    case TASK_EVENT_NOT_BUILT:
    case TASK_EVENT_NOT_SENT:
        return not_sent(event, facts);
    case TASK_EVENT_CHANNEL_LOST:
        if (event->step == TASK_STEP_SUBMIT) return unknown(facts, false, "the channel disappeared");
        return fail("upstream_error", CHANNEL_REMOVED);
    case TASK_EVENT_TRANSPORT_FAILED:
        return transport_failed(event, facts);
    case TASK_EVENT_SUBMIT_ANSWERED:
        return submit_answered(event, facts);
    case TASK_EVENT_JOB_STATE:
        if (event->step == TASK_STEP_LOOKUP) return looked_up(event, facts);
        if (event->step == TASK_STEP_RESULT && event->phase == UPSTREAM_JOB_RETRY)
            return schedule(TASK_STEP_RESULT,
                            facts->now_ms + task_machine_scaled(facts->poll_scale, RETRY_MS));
        return job_state(event, facts);
    case TASK_EVENT_RESUMED_UNKNOWN: {
        task_action action = unknown(facts, facts->can_look_up, "restarted while submitting");
        if (action.kind == TASK_ACTION_SCHEDULE && facts->can_look_up)
            action.at_ms = facts->now_ms; /* at once */
        return action;
    }
    }
    return act(TASK_ACTION_NONE);
}
