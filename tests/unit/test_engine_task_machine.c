/* test_engine_task_machine.c — the upstream runner's decisions (engine/task_machine.h) as a table: each
 * row is an event, the facts around it and the whole action expected (every field compared), covering
 * the poll back-off (slower when a webhook is expected) and provider wishes, result documents, downloads,
 * refusals and the circuit, throttling, submissions that never left, unknown submissions (look-up, webhook
 * wait, grace period, restart), routing verdicts, channels that vanish, requests that cannot be built or
 * sent, and pokes (a verified end-of-job webhook fetching the result at once). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "engine/task_machine.h"

/* Rows start from common facts and override a few (a later designated initializer wins, as C says). */
#pragma GCC diagnostic ignored "-Woverride-init"

enum { NOW = 1000000, GRACE = 600000, SINCE = NOW - 5000 };

#define FACTS(...)                                                                                           \
    {                                                                                                        \
        .now_ms = NOW, .poll_scale = 1.0, .poll_interval_ms = 2000, .estimated_seconds = 60,                 \
        .unknown_grace_ms = GRACE, .last_error_code = "", .last_error_message = "", __VA_ARGS__              \
    }

typedef struct machine_case {
    const char *name;
    task_event event;
    task_facts facts;
    task_action expect;
} machine_case;

static const machine_case cases[] = {
    /* ---- polls and the back-off ---- */
    {"a running job is polled after the interval, which grows x1.5",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_RUNNING},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 2000,
      .poll_interval_ms = 3000,
      .report_progress = true}},
    {"a queued job likewise",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_QUEUED},
     FACTS(.poll_interval_ms = 3000),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 3000,
      .poll_interval_ms = 4500,
      .report_progress = true}},
    {"the interval stops growing at 30 s",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_RUNNING},
     FACTS(.poll_interval_ms = 25000),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 25000,
      .poll_interval_ms = 30000,
      .report_progress = true}},
    {"with a webhook expected the interval grows on, up to 5 min",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_RUNNING},
     FACTS(.poll_interval_ms = 250000, .webhook_expected = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 250000,
      .poll_interval_ms = 300000,
      .report_progress = true}},
    {"a provider asking for a longer wait gets it (unscaled)",
     {.kind = TASK_EVENT_JOB_STATE,
      .step = TASK_STEP_POLL,
      .phase = UPSTREAM_JOB_RUNNING,
      .retry_after_ms = 7000},
     FACTS(.poll_scale = 0.01, .poll_interval_ms = 20),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 7000,
      .poll_interval_ms = 30,
      .report_progress = true}},
    {"a shorter wish than the interval changes nothing",
     {.kind = TASK_EVENT_JOB_STATE,
      .step = TASK_STEP_POLL,
      .phase = UPSTREAM_JOB_RUNNING,
      .retry_after_ms = 500},
     FACTS(.poll_interval_ms = 4000),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 4000,
      .poll_interval_ms = 6000,
      .report_progress = true}},
    {"an answer that tells nothing is asked again at the next poll time, without progress",
     {.kind = TASK_EVENT_JOB_STATE,
      .step = TASK_STEP_POLL,
      .phase = UPSTREAM_JOB_RETRY,
      .retry_after_ms = 9000},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_POLL, .at_ms = NOW + 9000, .poll_interval_ms = 3000}},
    {"a finished job with a result document has it fetched",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_FETCH_RESULT},
     FACTS(),
     {.kind = TASK_ACTION_SEND, .step = TASK_STEP_RESULT}},
    {"an unreadable result document is fetched again 2 s later (scaled)",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_RESULT, .phase = UPSTREAM_JOB_RETRY},
     FACTS(.poll_scale = 0.5),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_RESULT, .at_ms = NOW + 1000}},
    {"a result document saying success starts the download",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_RESULT, .phase = UPSTREAM_JOB_SUCCEEDED},
     FACTS(),
     {.kind = TASK_ACTION_DOWNLOAD}},
    {"a succeeded job is downloaded",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_SUCCEEDED},
     FACTS(),
     {.kind = TASK_ACTION_DOWNLOAD}},
    {"a failed job fails the task with the provider's code and words",
     {.kind = TASK_EVENT_JOB_STATE,
      .step = TASK_STEP_POLL,
      .phase = UPSTREAM_JOB_FAILED,
      .error_code = "content_policy_violation",
      .error_message = "nope"},
     FACTS(),
     {.kind = TASK_ACTION_FAIL, .error_code = "content_policy_violation", .error_message = "nope"}},
    {"a failed job without a code is a generation failure",
     {.kind = TASK_EVENT_JOB_STATE,
      .step = TASK_STEP_POLL,
      .phase = UPSTREAM_JOB_FAILED,
      .error_code = "",
      .error_message = "broke"},
     FACTS(),
     {.kind = TASK_ACTION_FAIL, .error_code = "generation_failed", .error_message = "broke"}},
    {"a job the provider forgot fails the task",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_LOST},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "upstream_error",
      .error_message = "The provider no longer knows this job."}},
    {"a poll lost in transport counts against the channel and waits for the next poll time",
     {.kind = TASK_EVENT_TRANSPORT_FAILED, .step = TASK_STEP_POLL, .error_message = "Timeout was reached"},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 2000,
      .poll_interval_ms = 3000,
      .channel_failure = true}},
    {"a result fetch lost in transport goes back to polling",
     {.kind = TASK_EVENT_TRANSPORT_FAILED, .step = TASK_STEP_RESULT},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_POLL,
      .at_ms = NOW + 2000,
      .poll_interval_ms = 3000,
      .channel_failure = true}},

    /* ---- submissions ---- */
    {"an accepted submission closes the circuit and polls near half the usual duration",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_ACCEPTED,
      .http_status = 200},
     FACTS(.estimated_seconds = 40, .poll_interval_ms = 9000),
     {.kind = TASK_ACTION_ACCEPT, .at_ms = NOW + 20000, .poll_interval_ms = 2000, .channel_success = true}},
    {"with a webhook expected, the first poll waits the whole usual duration and the interval starts at 30 s",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED, .step = TASK_STEP_SUBMIT, .verdict = UPSTREAM_ACCEPTED},
     FACTS(.estimated_seconds = 40, .webhook_expected = true),
     {.kind = TASK_ACTION_ACCEPT, .at_ms = NOW + 40000, .poll_interval_ms = 30000, .channel_success = true}},
    {"the first poll is scaled like every delay",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED, .step = TASK_STEP_SUBMIT, .verdict = UPSTREAM_ACCEPTED},
     FACTS(.estimated_seconds = 40, .poll_scale = 0.01),
     {.kind = TASK_ACTION_ACCEPT, .at_ms = NOW + 200, .poll_interval_ms = 20, .channel_success = true}},
    {"a 4xx refusal moves on to the next channel without blaming this one",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_REFUSED,
      .http_status = 422,
      .error_code = "invalid_parameters",
      .error_message = "bad prompt"},
     FACTS(),
     {.kind = TASK_ACTION_NEXT_CHANNEL,
      .refused = true,
      .error_code = "invalid_parameters",
      .error_message = "bad prompt"}},
    {"a 5xx refusal counts against the circuit",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_REFUSED,
      .http_status = 503,
      .error_code = "",
      .error_message = "down"},
     FACTS(),
     {.kind = TASK_ACTION_NEXT_CHANNEL,
      .refused = true,
      .channel_failure = true,
      .error_code = "upstream_error",
      .error_message = "down"}},
    {"so do 401 and 403",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_REFUSED,
      .http_status = 403,
      .error_message = "key"},
     FACTS(),
     {.kind = TASK_ACTION_NEXT_CHANNEL,
      .refused = true,
      .channel_failure = true,
      .error_code = "upstream_error",
      .error_message = "key"}},
    {"a 429 throttles the channel for its Retry-After and routes again",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_THROTTLED,
      .retry_after_ms = 12000},
     FACTS(.poll_scale = 0.01),
     {.kind = TASK_ACTION_THROTTLE, .at_ms = NOW + 12000}},
    {"a 429 without Retry-After throttles for 2 s",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED, .step = TASK_STEP_SUBMIT, .verdict = UPSTREAM_THROTTLED},
     FACTS(),
     {.kind = TASK_ACTION_THROTTLE, .at_ms = NOW + 2000}},
    {"an unreadable success makes the submission unknown: looked up in 2 s when the provider can",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_AMBIGUOUS,
      .error_message = "no id in the answer"},
     FACTS(.can_look_up = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + 2000,
      .start_unknown = true,
      .unknown_since_ms = NOW,
      .unknown_reason = "no id in the answer"}},
    {"... and left to a webhook until the grace period ends when it cannot",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_SUBMIT,
      .verdict = UPSTREAM_AMBIGUOUS,
      .error_message = "no id"},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + GRACE,
      .start_unknown = true,
      .unknown_since_ms = NOW,
      .unknown_reason = "no id"}},
    {"a submission sent and unanswered counts against the channel and is in doubt",
     {.kind = TASK_EVENT_TRANSPORT_FAILED, .step = TASK_STEP_SUBMIT, .error_message = "Timeout was reached"},
     FACTS(.can_look_up = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + 2000,
      .channel_failure = true,
      .start_unknown = true,
      .unknown_since_ms = NOW,
      .unknown_reason = "Timeout was reached"}},
    {"a submission that never left (no connection in time) is routed again 1 s later, unscaled",
     {.kind = TASK_EVENT_TRANSPORT_FAILED, .step = TASK_STEP_SUBMIT, .never_left = true},
     FACTS(.poll_scale = 0.01),
     {.kind = TASK_ACTION_ROUTE_LATER, .at_ms = NOW + 1000}},
    {"a submission whose connection failed was refused by that channel",
     {.kind = TASK_EVENT_TRANSPORT_FAILED,
      .step = TASK_STEP_SUBMIT,
      .connect_failed = true,
      .never_left = true,
      .error_message = "Couldn't connect to server"},
     FACTS(),
     {.kind = TASK_ACTION_NEXT_CHANNEL,
      .refused = true,
      .channel_failure = true,
      .error_code = "upstream_error",
      .error_message = "Couldn't connect to server"}},
    {"a request that could not be started tries the next channel, unlogged as a refusal",
     {.kind = TASK_EVENT_NOT_SENT, .step = TASK_STEP_SUBMIT},
     FACTS(),
     {.kind = TASK_ACTION_NEXT_CHANNEL,
      .error_code = "upstream_error",
      .error_message = "The request could not be sent."}},
    {"a poll that could not be started is tried again 2 s later",
     {.kind = TASK_EVENT_NOT_SENT, .step = TASK_STEP_POLL},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_POLL, .at_ms = NOW + 2000}},
    {"a submission the provider cannot build fails as invalid parameters, with its reason",
     {.kind = TASK_EVENT_NOT_BUILT, .step = TASK_STEP_SUBMIT, .error_message = "duration too long"},
     FACTS(),
     {.kind = TASK_ACTION_FAIL, .error_code = "invalid_parameters", .error_message = "duration too long"}},
    {"... or a general one when it gave none",
     {.kind = TASK_EVENT_NOT_BUILT, .step = TASK_STEP_SUBMIT, .error_message = ""},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "invalid_parameters",
      .error_message = "The provider cannot take these parameters."}},
    {"a poll that cannot be built fails the task",
     {.kind = TASK_EVENT_NOT_BUILT, .step = TASK_STEP_POLL},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "upstream_error",
      .error_message = "The request to the provider could not be built."}},

    /* ---- unknown submissions ---- */
    {"an unknown submission keeps its start time while it is looked up",
     {.kind = TASK_EVENT_TRANSPORT_FAILED, .step = TASK_STEP_LOOKUP, .error_message = "reset"},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + 2000,
      .unknown_since_ms = SINCE,
      .unknown_reason = "reset"}},
    {"a replayed submit lost in transport also counts against the channel",
     {.kind = TASK_EVENT_TRANSPORT_FAILED, .step = TASK_STEP_LOOKUP, .error_message = "reset"},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true, .lookup_is_submit = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + 2000,
      .channel_failure = true,
      .unknown_since_ms = SINCE,
      .unknown_reason = "reset"}},
    {"the grace period over, an unknown submission fails and is never sent again",
     {.kind = TASK_EVENT_DUE, .step = TASK_STEP_LOOKUP},
     FACTS(.unknown_since_ms = NOW - GRACE, .can_look_up = true),
     {.kind = TASK_ACTION_FAIL,
      .unknown_since_ms = NOW - GRACE,
      .unknown_reason = "grace period over",
      .error_code = "upstream_error",
      .error_message = "The provider did not answer the submission and the job could not be found; the task "
                       "was not submitted again."}},
    {"within the grace period a due look-up is sent",
     {.kind = TASK_EVENT_DUE, .step = TASK_STEP_LOOKUP},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true),
     {.kind = TASK_ACTION_SEND, .step = TASK_STEP_LOOKUP}},
    {"a due look-up for a provider without one waits again for the grace period's end",
     {.kind = TASK_EVENT_DUE, .step = TASK_STEP_LOOKUP},
     FACTS(.unknown_since_ms = SINCE),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = SINCE + GRACE,
      .unknown_since_ms = SINCE,
      .unknown_reason = "grace period over"}},
    {"a look-up finding no job makes a new submission safe",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_LOOKUP, .phase = UPSTREAM_JOB_LOST},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true),
     {.kind = TASK_ACTION_RESUBMIT}},
    {"a look-up finding the job accepts it, then reads its state as a poll's",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_LOOKUP, .phase = UPSTREAM_JOB_RUNNING},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true),
     {.kind = TASK_ACTION_ACCEPT, .at_ms = NOW + 30000, .poll_interval_ms = 2000, .then_job_state = true}},
    {"an unreadable look-up answer keeps the submission in doubt",
     {.kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_LOOKUP, .phase = UPSTREAM_JOB_RETRY},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + 2000,
      .unknown_since_ms = SINCE,
      .unknown_reason = "look-up answer unreadable"}},
    {"a replay refused says no job was made: forget the doubt, next channel",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_LOOKUP,
      .verdict = UPSTREAM_REFUSED,
      .http_status = 400,
      .error_code = "invalid_parameters",
      .error_message = "bad"},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true, .lookup_is_submit = true),
     {.kind = TASK_ACTION_NEXT_CHANNEL,
      .refused = true,
      .forget_unknown = true,
      .error_code = "invalid_parameters",
      .error_message = "bad"}},
    {"a replay throttled stays in doubt (no throttling of the channel)",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED,
      .step = TASK_STEP_LOOKUP,
      .verdict = UPSTREAM_THROTTLED,
      .retry_after_ms = 5000},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true, .lookup_is_submit = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + 2000,
      .unknown_since_ms = SINCE,
      .unknown_reason = "throttled during look-up"}},
    {"a replay accepted: the job exists",
     {.kind = TASK_EVENT_SUBMIT_ANSWERED, .step = TASK_STEP_LOOKUP, .verdict = UPSTREAM_ACCEPTED},
     FACTS(.unknown_since_ms = SINCE, .can_look_up = true, .lookup_is_submit = true),
     {.kind = TASK_ACTION_ACCEPT, .at_ms = NOW + 30000, .poll_interval_ms = 2000, .channel_success = true}},
    {"found submitting at start: looked up at once when the provider can",
     {.kind = TASK_EVENT_RESUMED_UNKNOWN, .step = TASK_STEP_SUBMIT},
     FACTS(.can_look_up = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW,
      .start_unknown = true,
      .unknown_since_ms = NOW,
      .unknown_reason = "restarted while submitting"}},
    {"... keeping the doubt's first moment from before the restart",
     {.kind = TASK_EVENT_RESUMED_UNKNOWN, .step = TASK_STEP_SUBMIT},
     FACTS(.unknown_since_ms = SINCE),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = SINCE + GRACE,
      .unknown_since_ms = SINCE,
      .unknown_reason = "restarted while submitting"}},
    {"... or failed when the grace period ended while it was down",
     {.kind = TASK_EVENT_RESUMED_UNKNOWN, .step = TASK_STEP_SUBMIT},
     FACTS(.unknown_since_ms = NOW - GRACE - 1, .can_look_up = true),
     {.kind = TASK_ACTION_FAIL,
      .unknown_since_ms = NOW - GRACE - 1,
      .unknown_reason = "restarted while submitting",
      .error_code = "upstream_error",
      .error_message = "The provider did not answer the submission and the job could not be found; the task "
                       "was not submitted again."}},

    /* ---- channels ---- */
    {"a channel gone before the submission routes again",
     {.kind = TASK_EVENT_CHANNEL_GONE, .step = TASK_STEP_SUBMIT},
     FACTS(),
     {.kind = TASK_ACTION_ROUTE}},
    {"a channel gone before a poll fails the task",
     {.kind = TASK_EVENT_CHANNEL_GONE, .step = TASK_STEP_POLL},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "upstream_error",
      .error_message = "The channel this task ran on was removed."}},
    {"a channel gone while the submission was in flight: in doubt, nothing to look it up with",
     {.kind = TASK_EVENT_CHANNEL_LOST, .step = TASK_STEP_SUBMIT},
     FACTS(.can_look_up = true),
     {.kind = TASK_ACTION_SCHEDULE,
      .step = TASK_STEP_LOOKUP,
      .at_ms = NOW + GRACE,
      .start_unknown = true,
      .unknown_since_ms = NOW,
      .unknown_reason = "the channel disappeared"}},
    {"a channel gone while a poll was in flight fails the task",
     {.kind = TASK_EVENT_CHANNEL_LOST, .step = TASK_STEP_POLL},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "upstream_error",
      .error_message = "The channel this task ran on was removed."}},
    {"routing chose a channel: submit",
     {.kind = TASK_EVENT_ROUTED, .routing = ROUTING_CHOSEN},
     FACTS(),
     {.kind = TASK_ACTION_SEND, .step = TASK_STEP_SUBMIT}},
    {"every channel busy: route again when one frees up",
     {.kind = TASK_EVENT_ROUTED, .routing = ROUTING_BUSY, .retry_at_ms = NOW + 4000},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_ROUTE, .at_ms = NOW + 4000}},
    {"... but not sooner than 50 ms",
     {.kind = TASK_EVENT_ROUTED, .routing = ROUTING_BUSY, .retry_at_ms = NOW},
     FACTS(),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_ROUTE, .at_ms = NOW + 50}},
    {"no channel left after refusals: the last refusal is the task's error",
     {.kind = TASK_EVENT_ROUTED, .routing = ROUTING_NO_CHANNEL},
     FACTS(.tried_count = 2, .last_error_code = "content_policy_violation", .last_error_message = "flagged"),
     {.kind = TASK_ACTION_FAIL, .error_code = "content_policy_violation", .error_message = "flagged"}},
    {"no channel serves the model",
     {.kind = TASK_EVENT_ROUTED, .routing = ROUTING_NO_CHANNEL},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "no_available_channel",
      .error_message = "No enabled channel serves this model."}},
    {"no channel honours the options",
     {.kind = TASK_EVENT_ROUTED, .routing = ROUTING_UNSUPPORTED},
     FACTS(),
     {.kind = TASK_ACTION_FAIL,
      .error_code = "unsupported_advanced_options",
      .error_message = "No enabled channel honours the advanced options given."}},

    /* ---- timers and pokes ---- */
    {"a due route routes",
     {.kind = TASK_EVENT_DUE, .step = TASK_STEP_ROUTE},
     FACTS(),
     {.kind = TASK_ACTION_ROUTE}},
    {"a due poll is sent",
     {.kind = TASK_EVENT_DUE, .step = TASK_STEP_POLL},
     FACTS(),
     {.kind = TASK_ACTION_SEND, .step = TASK_STEP_POLL}},
    {"a poke polls at once",
     {.kind = TASK_EVENT_POKE},
     FACTS(.waiting_for = TASK_STEP_POLL, .last_forced_poll_ms = NOW - 1000),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_POLL, .at_ms = NOW, .forced = true}},
    {"a second poke within a second does nothing",
     {.kind = TASK_EVENT_POKE},
     FACTS(.waiting_for = TASK_STEP_POLL, .last_forced_poll_ms = NOW - 999),
     {.kind = TASK_ACTION_NONE}},
    {"a poke while a request is in flight does nothing",
     {.kind = TASK_EVENT_POKE},
     FACTS(.waiting_for = TASK_STEP_POLL, .busy = true),
     {.kind = TASK_ACTION_NONE}},
    {"a poke for an unknown submission looks it up at once",
     {.kind = TASK_EVENT_POKE},
     FACTS(.waiting_for = TASK_STEP_LOOKUP, .unknown_since_ms = SINCE),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_LOOKUP, .at_ms = NOW, .forced = true}},
    {"a verified webhook saying the job ended fetches its result document at once",
     {.kind = TASK_EVENT_POKE, .job_ended = true},
     FACTS(.waiting_for = TASK_STEP_POLL, .has_result_document = true, .webhook_expected = true),
     {.kind = TASK_ACTION_SEND, .step = TASK_STEP_RESULT, .forced = true}},
    {"... and polls at once for a provider without a result document",
     {.kind = TASK_EVENT_POKE, .job_ended = true},
     FACTS(.waiting_for = TASK_STEP_POLL, .webhook_expected = true),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_POLL, .at_ms = NOW, .forced = true}},
    {"... within the same limits as any poke",
     {.kind = TASK_EVENT_POKE, .job_ended = true},
     FACTS(.waiting_for = TASK_STEP_POLL, .has_result_document = true, .last_forced_poll_ms = NOW - 10),
     {.kind = TASK_ACTION_NONE}},
    {"an unverified poke of a provider with a result document polls",
     {.kind = TASK_EVENT_POKE},
     FACTS(.waiting_for = TASK_STEP_POLL, .has_result_document = true),
     {.kind = TASK_ACTION_SCHEDULE, .step = TASK_STEP_POLL, .at_ms = NOW, .forced = true}},
    {"a poke while waiting to route does nothing",
     {.kind = TASK_EVENT_POKE},
     FACTS(.waiting_for = TASK_STEP_ROUTE),
     {.kind = TASK_ACTION_NONE}},
};

static void assert_text_equal(const char *name, const char *field, const char *actual, const char *expected)
{
    if (expected == NULL && actual == NULL) return;
    if (expected != NULL && actual != NULL && strcmp(expected, actual) == 0) return;
    fail_msg("%s: %s is \"%s\", expected \"%s\"", name, field, actual ? actual : "(null)",
             expected ? expected : "(null)");
}

#define EXPECT_FIELD(field)                                                                                  \
    if ((long long)got.field != (long long)want->field)                                                      \
    fail_msg("%s: " #field " is %lld, expected %lld", row->name, (long long)got.field, (long long)want->field)

static void every_row_gives_its_action(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const machine_case *row = &cases[i];
        const task_action *want = &row->expect;
        task_action got = task_machine_next(&row->event, &row->facts);
        EXPECT_FIELD(kind);
        EXPECT_FIELD(at_ms);
        EXPECT_FIELD(poll_interval_ms);
        EXPECT_FIELD(report_progress);
        EXPECT_FIELD(forced);
        EXPECT_FIELD(then_job_state);
        EXPECT_FIELD(refused);
        EXPECT_FIELD(channel_failure);
        EXPECT_FIELD(channel_success);
        EXPECT_FIELD(forget_unknown);
        EXPECT_FIELD(start_unknown);
        EXPECT_FIELD(unknown_since_ms);
        if (want->kind == TASK_ACTION_SCHEDULE || want->kind == TASK_ACTION_SEND) EXPECT_FIELD(step);
        assert_text_equal(row->name, "unknown_reason", got.unknown_reason, want->unknown_reason);
        assert_text_equal(row->name, "error_code", got.error_code, want->error_code);
        assert_text_equal(row->name, "error_message", got.error_message, want->error_message);
    }
}

static void delays_are_scaled_but_never_below_20_ms(void **state)
{
    (void)state;
    assert_int_equal(task_machine_scaled(1.0, 2000), 2000);
    assert_int_equal(task_machine_scaled(0.01, 2000), 20);
    assert_int_equal(task_machine_scaled(0.001, 2000), 20);
    assert_int_equal(task_machine_scaled(2.5, 30000), 75000);
    assert_int_equal(task_machine_first_poll_interval(0.5, false), 1000);
    assert_int_equal(task_machine_first_poll_interval(0.5, true), 15000);
}

/* A job that keeps running is polled at 2, 3, 4.5 … s, then every 30 s. */
static void a_long_job_backs_off_to_every_30_seconds(void **state)
{
    (void)state;
    task_facts facts = {
        .now_ms = 0, .poll_scale = 1.0, .poll_interval_ms = task_machine_first_poll_interval(1.0, false)};
    task_event running = {
        .kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_RUNNING};
    const int64_t expected_delays[] = {2000, 3000, 4500, 6750, 10125, 15187, 22780, 30000, 30000};
    for (size_t i = 0; i < sizeof(expected_delays) / sizeof(expected_delays[0]); i++) {
        task_action action = task_machine_next(&running, &facts);
        assert_int_equal(action.kind, TASK_ACTION_SCHEDULE);
        assert_int_equal(action.at_ms - facts.now_ms, expected_delays[i]);
        facts.now_ms = action.at_ms;
        facts.poll_interval_ms = action.poll_interval_ms;
    }
}

/* With a webhook expected, polls are the fallback: 30 s, 45 s, 67.5 s … then every 5 min. */
static void a_long_job_with_a_webhook_backs_off_to_every_5_minutes(void **state)
{
    (void)state;
    task_facts facts = {.now_ms = 0,
                        .poll_scale = 1.0,
                        .poll_interval_ms = task_machine_first_poll_interval(1.0, true),
                        .webhook_expected = true};
    task_event running = {
        .kind = TASK_EVENT_JOB_STATE, .step = TASK_STEP_POLL, .phase = UPSTREAM_JOB_RUNNING};
    const int64_t expected_delays[] = {30000, 45000, 67500, 101250, 151875, 227812, 300000, 300000};
    for (size_t i = 0; i < sizeof(expected_delays) / sizeof(expected_delays[0]); i++) {
        task_action action = task_machine_next(&running, &facts);
        assert_int_equal(action.kind, TASK_ACTION_SCHEDULE);
        assert_int_equal(action.at_ms - facts.now_ms, expected_delays[i]);
        facts.now_ms = action.at_ms;
        facts.poll_interval_ms = action.poll_interval_ms;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_gives_its_action),
        cmocka_unit_test(delays_are_scaled_but_never_below_20_ms),
        cmocka_unit_test(a_long_job_backs_off_to_every_30_seconds),
        cmocka_unit_test(a_long_job_with_a_webhook_backs_off_to_every_5_minutes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
