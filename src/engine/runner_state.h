/* runner_state.h — the upstream runner's state, shared by the files that make up the runner (internal
 * to the engine; the public contract is engine/upstream_runner.h):
 *   upstream_runner.c  the loop: its thread, the multi handle, the inbox from other threads, the timers
 *                      and the services below;
 *   runner_channels.c  the channel table (engine/runner_channels.h);
 *   runner_flights.c   each task's life on a channel (engine/runner_flights.h), deciding with
 *                      engine/task_machine.h and talking through engine/upstream_transfer.h;
 *   result_finishing.c the finishing threads (engine/result_finishing.h).
 *
 * Ownership: everything here belongs to the runner thread, except what is marked otherwise. A flight
 * (one task followed by the runner) waits for exactly one thing at a time: its timer, a provider
 * request, its result's download, or its result's finishing. */
#ifndef REELAY_ENGINE_RUNNER_STATE_H
#define REELAY_ENGINE_RUNNER_STATE_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>

#include "engine/result_finishing.h"
#include "engine/result_previews.h"
#include "engine/routing.h"
#include "engine/task_machine.h"
#include "engine/upstream_runner.h"
#include "engine/webhook_keys.h"
#include "engine/upstream_transfer.h"
#include "net/fetch.h"
#include "store/store.h"
#include "upstream/upstream.h"
#include "util/ids.h"
#include "util/min_heap.h"
#include "util/secret_box.h"
#include "util/str_map.h"
#include "util/vector.h"

/* The channel table is re-read this often even without a signal (a missed one, or SQLite's command
 * line): a change reaches the runner within a second. */
enum {
    MAX_TRIED = 8,
    CHANNEL_RELOAD_MS = 900,
    CLUSTER_SLOT_RETRY_MS = 500, /* a capped channel full with other nodes' tasks: route again after this */
    /* Provider requests in flight per channel at once (as many as the connections the multi handle keeps
     * per host): a burst of tasks waits its turn in the channel's lane instead of each holding a libcurl
     * handle and its buffers (tens of KB) while it queues inside libcurl. */
    LANE_REQUESTS = 64,
};

typedef struct flight flight;

/* A channel's lane: the requests it has in flight and the flights waiting to send one, oldest first. Lanes
 * are made on a channel's first request and kept (by name) while the runner runs. */
typedef struct send_lane {
    char channel[64];
    size_t active;
    flight *first, *last;
} send_lane;

/* A provider channel's opened credential and auth state, beside its routing_channel. */
typedef struct channel_slot {
    char credential[SECRET_BOX_MAX_PLAIN + 1];
    upstream_auth_cache auth;
} channel_slot;

/* The channels that refused a task and the last refusal's words: kept only once a channel has refused it
 * (most tasks never need it). */
typedef struct flight_refusals {
    char tried[MAX_TRIED][64];
    int tried_count;
    char last_error_code[48], last_error_message[512];
} flight_refusals;

/* One task followed by the runner. It holds only what the task needs between steps, a few hundred bytes:
 * what a step needs while it runs (its request, the result's scratch folder) is allocated for that step
 * and freed after, so 100,000 waiting tasks cost little more than their ids and jobs. */
struct flight {
    char task_id[IDS_TASK_ID_SIZE];
    char model[48];
    json_t *params;
    json_t *advanced;          /* option names the client gave explicitly */
    char channel[64];          /* "" while unrouted */
    bool holds_slot;           /* counted in that channel's in_flight */
    flight_refusals *refusals; /* NULL until a channel refuses it */
    char *job;                 /* the provider's job, packed (flight_job_get), NULL while there is none */
    task_step next_step;       /* the step its timer or its request is for */
    min_heap_node timer;       /* keyed by when next_step runs; queued only while waiting for that time */
    int64_t started_ms;        /* for synthetic progress */
    int64_t poll_interval_ms;  /* the back-off in force */
    int64_t unknown_since_ms;  /* submission unknown since then, 0 otherwise */
    int64_t last_forced_poll_ms;
    int estimated_seconds;
    int progress_written;        /* the last progress recorded in the store by this flight (0 at first) */
    bool poked;                  /* a poke asked for news: its answer is recorded even if nothing moved */
    upstream_transfer *transfer; /* the provider request in progress, NULL while none */
    send_lane *lane;             /* the lane its request went out on, or it waits in; NULL otherwise */
    bool lane_waiting;           /* waiting in lane to send next_step */
    flight *lane_prev, *lane_next;
    /* the result: downloaded on the multi handle (download) into scratch, then stored by a finishing
     * thread; scratch (malloc'd) names the folder from the download's start until the flight ends */
    bool downloading;
    fetch_transfer *download;
    char *scratch;
    double stated_duration;
};

typedef enum { INBOX_ADD, INBOX_CANCEL, INBOX_POLL, INBOX_POLL_JOB, INBOX_DOWNLOADED } inbox_kind;

typedef struct inbox_item {
    inbox_kind kind;
    char task_id[IDS_TASK_ID_SIZE];
    char channel[64], job_id[128]; /* INBOX_POLL_JOB */
    bool ok;                       /* INBOX_DOWNLOADED: stored and completed; INBOX_POLL: a verified webhook
                                      (runner_webhook_verified) */
} inbox_item;

enum { JWKS_REFRESH_MS = 3600 * 1000, JWKS_MIN_INTERVAL_MS = 60 * 1000, JWKS_LIMIT = 64 * 1024 };

struct upstream_runner {
    runner_config config;
    pthread_t thread;
    CURLM *multi;
    store *db;
    atomic_bool stopping; /* any thread */

    pthread_mutex_t lock; /* guards the inbox (any thread) */
    vector inbox;         /* of inbox_item */

    result_finishing *finishing;    /* its threads report through the inbox */
    atomic_size_t downloads_active; /* results being downloaded (read by runner_get_stats) */

    routing_channel *channels;
    channel_slot *slots; /* one per channel */
    size_t channel_count;
    int64_t channels_loaded_ms;
    atomic_bool channels_stale; /* any thread: runner_reload_channels asks for a re-read */
    str_map flights;            /* task id → flight */
    atomic_size_t flight_count; /* atomic: read by runner_get_stats from other threads */
    min_heap timers;            /* flights waiting for their next step, by due time */
    atomic_size_t transfers;    /* provider requests in progress (read by runner_get_stats) */
    str_map lanes;              /* channel name → send_lane */

    /* What runner_channel_health copies for other threads: the channels' routing state as of the
     * loop's last turn (published by the runner thread under health_lock). */
    pthread_mutex_t health_lock;
    routing_channel_health *health;
    size_t health_count;

    webhook_keys *keys; /* the keys providers sign their webhooks with, fetched by the runner thread */
    char webhook_base[512];
};

/* ---- services of the loop (upstream_runner.c) ---- */

/* The flight following task_id, or NULL. */
flight *runner_flight_find(upstream_runner *r, const char *task_id);
/* Starts following f (new, not yet tracked): false when out of memory (nothing changed). Room for its
 * timer is reserved here, so that scheduling it never fails. */
bool runner_track(upstream_runner *r, flight *f);
/* Stops following f (its timer must be disarmed); the caller frees it. */
void runner_untrack(upstream_runner *r, flight *f);
/* (Re)arms f's timer for `what` at due_ms (f waits for nothing else). */
void runner_schedule(upstream_runner *r, flight *f, task_step what, int64_t due_ms);
/* Disarms f's timer, if armed. */
void runner_timer_cancel(upstream_runner *r, flight *f);

/* ---- the channels' lanes (LANE_REQUESTS) ---- */

/* Whether a request of f's may go out now on its channel (fewer than LANE_REQUESTS in flight there and
 * nobody waiting before it). */
bool runner_lane_open(upstream_runner *r, const flight *f);
/* f waits in its channel's lane to send `what` (it waits for nothing else). False when out of memory
 * (nothing changed). The loop sends it (flight_send_waiting) once the lane has room. */
bool runner_lane_wait(upstream_runner *r, flight *f, task_step what);
/* f waits in no lane any more (dropped, cancelled). */
void runner_lane_leave(upstream_runner *r, flight *f);
/* A request of f's went out (counted on its channel's lane and in r->transfers) / ended. */
void runner_request_started(upstream_runner *r, flight *f);
void runner_request_ended(upstream_runner *r, flight *f);

/* ---- a flight's job and refusals (runner_flights.c) ----
 * The job is kept packed: its id, status URL, result URL and cancel URL, each NUL-terminated, back to back
 * in one allocation of their real length, where an upstream_job reserves 6 KB. Adapters get a whole
 * upstream_job, unpacked on the stack for the step. */

/* f's job id, "" while it has no job. */
const char *flight_job_id(const flight *f);
/* Unpacks f's job into *out (all fields empty while it has none). */
void flight_job_get(const flight *f, upstream_job *out);
/* Makes *job f's job (an empty id: f has none). Returns false when out of memory: f keeps its old job. */
bool flight_job_set(flight *f, const upstream_job *job);
/* f's refusals, allocated at the first call; NULL when out of memory. */
flight_refusals *flight_refusals_of(flight *f);

#endif
