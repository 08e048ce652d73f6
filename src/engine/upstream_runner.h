/* upstream_runner.h — runs tasks on provider channels (internal to the engine).
 *
 * One thread owns one libcurl multi handle that carries every request to every provider (submit,
 * poll, result, cancel, look-up), a timer heap with one entry per task in flight (its next poll, retry
 * or back-off: nothing is swept), and the routing state of every channel (slots in use, circuit,
 * throttling). The thread also routes every new task; tasks routed to the sandbox are handed to the
 * engine's render workers through `to_sandbox`. Result files are downloaded on the same multi handle,
 * guarded like any user-given URL (net/fetch.h's fetch_transfer); a small pool of finishing threads
 * then probes and stores each file, so no disk or decoder work holds up the traffic of other tasks.
 *
 * Every state change is a compare-and-set in the store; the task's upstream record (channel, job id,
 * URLs, channels already tried, submission phase) is written before each step that depends on it,
 * so a restart resumes each task where it was — and a submission that was sent but not answered is
 * never sent blindly again: it is looked up (Kling by external id, Sync by idempotent replay) or, for
 * providers with no look-up, failed after a grace period.
 *
 * Inside, split by concern (engine/runner_state.h lists the files): the loop, the channel table, each
 * task's life and steps, the pure decisions (engine/task_machine.h), provider requests
 * (engine/upstream_transfer.h), result downloads and the finishing threads
 * (engine/result_finishing.h), which complete tasks through engine/task_completion.h.
 *
 * Thread safety: runner_add, runner_cancel, runner_poll_now, runner_poll_job, runner_reload_channels and
 * runner_channel_health may be called from any thread. */
#ifndef REELAY_ENGINE_UPSTREAM_RUNNER_H
#define REELAY_ENGINE_UPSTREAM_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#include "blob/blob.h"
#include "engine/result_previews.h"
#include "engine/routing.h"
#include "net/fetch.h"
#include "upstream/upstream.h"

typedef struct upstream_runner upstream_runner;

/* Hands a task routed to a sandbox channel to the render workers. */
typedef void (*runner_sandbox_fn)(void *context, const char *task_id, const char *channel,
                                  int64_t deadline_at);

typedef struct runner_config {
    const char *data_dir;     /* secrets (credentials.key), and the SQLite database */
    const char *database_url; /* store_open_url's URL; NULL = SQLite in data_dir */
    int64_t lease_epoch;      /* the node's epoch: every task write of the runner is fenced by it (store.h) */
    blob_store *blobs;
    fetch_policy fetch; /* for result downloads */
    const char
        *webhook_base; /* public URL of this server: webhook URLs are sent upstream; NULL = poll only */
    double poll_scale; /* multiplies every poll delay (tests use 0.01); default 1 */
    int64_t
        submit_timeout_ms; /* an unanswered submit becomes "submission unknown" after this; default 30 s */
    int64_t request_timeout_ms; /* other provider requests; default 30 s */
    int64_t
        unknown_grace_ms; /* a submission unknown that cannot be looked up fails after this; default 10 min */
    int download_workers; /* finishing threads (probe, store, complete); default 4 */
    result_previews
        *previews; /* where completed results' previews are made (outlives the runner); NULL = none */
    const char *webhook_keys_url; /* replaces providers' webhook-key URLs (tests); NULL = their own */
    runner_sandbox_fn to_sandbox;
    void *sandbox_context;
    /* Set on every store connection the runner and its finishing threads write tasks through
     * (store_observe_tasks); NULL = none. */
    store_task_observer_fn task_observer;
    void *task_observer_context;
} runner_config;

upstream_runner *runner_start(const runner_config *config);
/* Stops the thread and the downloads; unfinished tasks stay unfinished and resume on the next start. */
void runner_stop(upstream_runner *runner);

/* A task to run: a new one (pending) or an unfinished one found at start. */
void runner_add(upstream_runner *runner, const char *task_id);
/* The task was finished elsewhere (cancelled by its owner, timed out): stop following it, and ask the
 * provider to cancel the job when it can. */
void runner_cancel(upstream_runner *runner, const char *task_id);
/* Poll this task's job now (a webhook arrived, or a client asked for a fresh state). */
void runner_poll_now(upstream_runner *runner, const char *task_id);
/* The same for a verified webhook naming the task: for a provider whose webhooks come once a job ended
 * (upstream_provider.webhooks_at_end), its result is fetched at once instead of polling first. */
void runner_webhook_verified(upstream_runner *runner, const char *task_id);
/* The same for the job with this provider id on this channel (webhooks that name only the job). */
void runner_poll_job(upstream_runner *runner, const char *channel, const char *job_id);

/* Re-read the channel table now (a channel was added, changed or removed, maybe by another node);
 * without it the table is re-read every CHANNEL_RELOAD_MS. Any thread. */
void runner_reload_channels(upstream_runner *runner);

/* Copies the provider's webhook keys as last fetched (its webhook_keys_url) into out (NUL-terminated);
 * false when none is cached yet, it publishes none, or it does not fit. The runner fetches them while
 * webhooks are on and the provider has an enabled channel, and refreshes them hourly;
 * runner_refresh_webhook_keys asks for an earlier refresh (at most once a minute). */
bool runner_webhook_keys(upstream_runner *runner, const upstream_provider *provider, char *out,
                         size_t out_size);
void runner_refresh_webhook_keys(upstream_runner *runner, const upstream_provider *provider);

/* Copies the channels' routing state (circuit, slots in use, throttling) as of the runner's last turn
 * (a few milliseconds old at most while it is busy, at most CHANNEL_RELOAD_MS when idle) into a
 * malloc'd array (*out, free(); NULL when *count is 0). False when out of memory. Any thread. */
bool runner_channel_health(upstream_runner *runner, routing_channel_health **out, size_t *count);

typedef struct runner_stats {
    size_t flights;   /* tasks followed */
    size_t transfers; /* provider requests in progress */
    size_t downloads; /* results being downloaded */
} runner_stats;
void runner_get_stats(upstream_runner *runner, runner_stats *out);

#endif
