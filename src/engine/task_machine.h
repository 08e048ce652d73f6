/* task_machine.h — what a task on a provider channel does next: the upstream runner's decisions as one
 * pure function, from what just happened (a timer, an answer, a failure) and what is known about the
 * task and its provider, to the next action. No I/O, no clock, no store: the runner
 * (engine/runner_tasks.c) carries the action out, so every rule below is table-tested
 * (tests/unit/test_engine_task_machine.c).
 *
 * The rules:
 * - Polls back off: the first after half the model's usual duration, then every poll interval, which
 *   starts at 2 s and grows ×1.5 per poll up to 30 s; a provider's wish (Retry-After, poll-after) is
 *   honoured when it asks for a longer wait. When the provider was asked to call back (a webhook), polls
 *   are only the fallback for a lost webhook: the first after the model's usual duration, then every
 *   30 s growing ×1.5 up to 5 min. Every delay except the provider's own is multiplied by poll_scale
 *   (tests run at 0.01) and is at least 20 ms.
 * - A refused submission (4xx/5xx before acceptance) moves the task to the next channel; 5xx, 401 and
 *   403 also count against the channel's circuit breaker. A throttled one (429) leaves the channel
 *   alone until its Retry-After (2 s when unsaid) and routes again.
 * - A submission whose fate is unknown (sent, no readable answer) is never sent blindly again: it is
 *   looked up every 2 s when the provider can find it (by external id, or by replaying an idempotent
 *   submit), else left for a webhook to name; after the grace period it fails. A look-up that finds no
 *   job makes a new submission safe.
 * - A submission that never left (it waited for a connection the whole time) is routed again 1 s later:
 *   nobody refused it. One whose connection failed (DNS, connect, TLS) was refused by that channel.
 * - A poll that fails in transport counts against the channel and is retried at the next poll time.
 * - A webhook or a client's "poll now" polls at once (or looks the job up, when unknown), at most once a
 *   second per task, never while a request or download is in progress; a verified webhook saying the job
 *   ended fetches the result document at once instead, for a provider that has one. */
#ifndef REELAY_ENGINE_TASK_MACHINE_H
#define REELAY_ENGINE_TASK_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/routing.h"
#include "upstream/upstream.h"

typedef enum {
    TASK_STEP_ROUTE,  /* choose a channel */
    TASK_STEP_SUBMIT, /* create the job upstream */
    TASK_STEP_LOOKUP, /* find a job whose submission went unanswered */
    TASK_STEP_POLL,   /* ask for the job's state */
    TASK_STEP_RESULT, /* fetch the job's result document (providers that have one) */
    TASK_STEP_CANCEL, /* ask the provider to stop the job (its answer is only logged) */
} task_step;

typedef enum {
    TASK_EVENT_DUE,              /* the task's timer fired for `step` */
    TASK_EVENT_POKE,             /* a webhook or a client asked for fresh news (job_ended: see below) */
    TASK_EVENT_ROUTED,           /* routing answered: routing, retry_at_ms */
    TASK_EVENT_CHANNEL_GONE,     /* the channel was removed or disabled before `step` was sent */
    TASK_EVENT_NOT_BUILT,        /* the provider could not build `step`'s request (error_message: why) */
    TASK_EVENT_NOT_SENT,         /* the request was built but could not be started */
    TASK_EVENT_CHANNEL_LOST,     /* the channel vanished while `step`'s request was in flight */
    TASK_EVENT_TRANSPORT_FAILED, /* libcurl failed `step`'s request (error_message: its words) */
    TASK_EVENT_SUBMIT_ANSWERED,  /* parse_submit's verdict (a submit, or a look-up that replays one) */
    TASK_EVENT_JOB_STATE,        /* parse_poll or parse_result: the job's phase */
    TASK_EVENT_RESUMED_UNKNOWN,  /* found submitting at start: the submission may have been sent */
} task_event_kind;

typedef struct task_event {
    task_event_kind kind;
    task_step step;      /* the step concerned */
    bool connect_failed; /* TRANSPORT_FAILED: no connection (DNS, connect, TLS): nothing was sent */
    bool never_left;     /* TRANSPORT_FAILED: libcurl never started sending the request */
    bool job_ended;      /* POKE: a verified webhook of a provider whose webhooks come once a job ended */
    upstream_submit_verdict verdict; /* SUBMIT_ANSWERED */
    upstream_job_phase phase;        /* JOB_STATE */
    long http_status;                /* SUBMIT_ANSWERED: the answer's status */
    int64_t retry_after_ms;          /* the provider's wish (unscaled), 0 = none */
    const char *error_code;          /* the provider's task error code, "" or NULL = none */
    const char *error_message;       /* the provider's (or libcurl's) words, "" or NULL = none */
    routing_verdict routing;         /* ROUTED */
    int64_t retry_at_ms;             /* ROUTED, busy: when a channel frees up at the latest */
} task_event;

/* What is known about the task and its provider when the event happens. */
typedef struct task_facts {
    int64_t now_ms;
    double poll_scale;           /* > 0; multiplies every delay but the provider's own */
    int64_t poll_interval_ms;    /* the back-off in force (scaled) */
    int estimated_seconds;       /* the model's usual generation time */
    int64_t unknown_since_ms;    /* when the submission became unknown, 0 = it is not */
    int64_t unknown_grace_ms;    /* how long an unknown submission is looked for */
    int64_t last_forced_poll_ms; /* the last poke acted on */
    bool busy;                   /* a request or a download of this task is in progress */
    task_step waiting_for;       /* the step its timer is armed for */
    bool can_look_up;            /* the provider can find an unanswered submission (build_lookup) */
    bool has_result_document;    /* the provider has a result document apart from the job's state */
    bool webhook_expected;       /* the provider was asked to call back when the job changes */
    bool lookup_is_submit;       /* ... by replaying it: the answer is a submit verdict */
    int tried_count;             /* channels that refused the task */
    const char *last_error_code; /* the last refusal's, "" when none */
    const char *last_error_message;
} task_facts;

typedef enum {
    TASK_ACTION_NONE,         /* nothing to do */
    TASK_ACTION_SCHEDULE,     /* arm the timer for `step` at at_ms */
    TASK_ACTION_SEND,         /* send `step`'s request now */
    TASK_ACTION_ROUTE,        /* choose a channel now */
    TASK_ACTION_ROUTE_LATER,  /* give the channel's slot back (nobody refused) and route at at_ms */
    TASK_ACTION_ACCEPT,       /* the job exists: record it (processing), first poll at at_ms */
    TASK_ACTION_DOWNLOAD,     /* the job succeeded: download its result */
    TASK_ACTION_NEXT_CHANNEL, /* this channel will not run it: remember why, try the next channel */
    TASK_ACTION_THROTTLE,     /* the channel asks to slow down: no new work on it before at_ms, route */
    TASK_ACTION_RESUBMIT,     /* the look-up found no job: forget the job, submit again now */
    TASK_ACTION_FAIL,         /* the task fails with error_code and error_message */
} task_action_kind;

/* The next action. Its side effects come first, in this order: the circuit breaker (channel_failure,
 * channel_success), forget_unknown, then start_unknown (record and log that the submission is in
 * doubt, since unknown_since_ms, with unknown_reason). */
typedef struct task_action {
    task_action_kind kind;
    task_step step;             /* SCHEDULE, SEND */
    int64_t at_ms;              /* SCHEDULE, ROUTE_LATER, ACCEPT, THROTTLE */
    int64_t poll_interval_ms;   /* the back-off from now on; 0 = unchanged */
    bool report_progress;       /* SCHEDULE of a poll: the job is queued or running */
    bool forced;                /* a poke was acted on: remember when */
    bool then_job_state;        /* ACCEPT: then treat the event's phase as a poll's answer */
    bool refused;               /* NEXT_CHANNEL: the provider refused (log it and record it); else the
                                   request could not even be sent */
    bool channel_failure;       /* count a failure against the channel's circuit */
    bool channel_success;       /* ... or a success */
    bool forget_unknown;        /* the submission is no longer in doubt */
    bool start_unknown;         /* the submission has just become unknown */
    int64_t unknown_since_ms;   /* start_unknown: since when */
    const char *unknown_reason; /* start_unknown: why (for the log) */
    const char *error_code;     /* FAIL, NEXT_CHANNEL: static text or the event's or facts' own */
    const char *error_message;
} task_action;

/* The next action for event given facts. Pure; strings in the result point to static text or to the
 * event's and facts' own. */
task_action task_machine_next(const task_event *event, const task_facts *facts);

/* ms × scale, at least 20 ms: the delays of the rules above. */
int64_t task_machine_scaled(double scale, int64_t ms);

/* The poll interval a task starts with (2 s, scaled; 30 s when a webhook is expected). */
int64_t task_machine_first_poll_interval(double scale, bool webhook_expected);

#endif
