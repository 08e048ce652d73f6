/* routing.h — which channel runs a task: priority, then weight, skipping channels that are full,
 * throttled or whose circuit is open; and the circuit breaker itself.
 *
 * Pure over its arguments (the caller passes the time and a random number), so it is unit-tested
 * without threads or clocks. The engine owns one routing_channel per configured channel and calls
 * these functions under its own lock.
 *
 * Circuit breaker, per channel: ROUTING_FAILURES_TO_OPEN consecutive failures (refusals, transport
 * errors, 5xx) open the circuit for a cool-down; after it one trial task may go through (half-open);
 * its success closes the circuit, its failure opens it again for a longer cool-down (doubling, capped). */
#ifndef REELAY_ENGINE_ROUTING_H
#define REELAY_ENGINE_ROUTING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "upstream/upstream.h"

enum { ROUTING_FAILURES_TO_OPEN = 3 };
#define ROUTING_COOLDOWN_MS 5000
#define ROUTING_COOLDOWN_MAX_MS 300000

typedef struct routing_channel {
    channel_record record;
    const upstream_provider *provider; /* NULL for an unknown provider: never chosen */
    int in_flight;                     /* tasks on it now (submitted and unfinished) */
    int consecutive_failures;
    int64_t open_until_ms;      /* circuit open until then (0 = closed) */
    int64_t cooldown_ms;        /* the next opening's length */
    bool trial_in_flight;       /* half-open: one task is testing the channel */
    int64_t throttled_until_ms; /* 429 with Retry-After: no new submits until then */
} routing_channel;

typedef enum {
    ROUTING_CHOSEN = 0,
    ROUTING_NO_CHANNEL,  /* no enabled channel serves the model (with these options), or all were tried */
    ROUTING_UNSUPPORTED, /* channels serve the model, but none honours every advanced option given */
    ROUTING_BUSY,        /* channels exist but are full, throttled or open: try again at retry_at_ms */
} routing_verdict;

/* True when the channel is enabled and serves the model (its list and its provider's). */
bool routing_serves(const routing_channel *channel, const char *model);

/* Whether any channel could ever take this request: CHOSEN (yes), NO_CHANNEL or UNSUPPORTED (then
 * `unsupported` — when not NULL — receives a new array of the advanced option names that no enabled
 * channel for the model honours; caller decrefs). `advanced` is an array of option names or NULL. */
routing_verdict routing_check(const routing_channel *channels, size_t count, const char *model,
                              const json_t *advanced, json_t **unsupported);

/* Chooses a channel for a task now. `tried` lists channel names already refused for this task
 * (NULL-terminated, may be NULL). `random` is any uniformly random number. On CHOSEN, *chosen is the
 * index; a half-open channel is marked as having its trial in flight. On BUSY, *retry_at_ms says
 * when something frees up at the latest (a cap frees when a task ends: the caller is also woken then). */
routing_verdict routing_choose(routing_channel *channels, size_t count, const char *model,
                               const json_t *advanced, const char *const *tried, int64_t now_ms,
                               uint32_t random, size_t *chosen, int64_t *retry_at_ms);

/* Outcome of a request on a channel, for the circuit breaker. */
void routing_record_success(routing_channel *channel);
void routing_record_failure(routing_channel *channel, int64_t now_ms);

/* True while the circuit is open (before its cool-down ends). */
bool routing_is_open(const routing_channel *channel, int64_t now_ms);

/* What operators see of a channel's routing state (the admin API's channel health): a copy the runner
 * publishes for other threads. */
typedef struct routing_channel_health {
    char name[64];
    bool usable; /* its provider is known and its credential opened (else it is never chosen) */
    int in_flight;
    int consecutive_failures;
    int64_t open_until_ms;      /* 0 = closed */
    bool trial_in_flight;       /* half-open: a trial task is out */
    int64_t throttled_until_ms; /* 0 = not throttled */
} routing_channel_health;

typedef enum { ROUTING_CIRCUIT_CLOSED, ROUTING_CIRCUIT_OPEN, ROUTING_CIRCUIT_HALF_OPEN } routing_circuit;

/* The health copy of one channel (pure). */
void routing_health_of(const routing_channel *channel, routing_channel_health *out);
/* The circuit's state at now_ms: open before its cool-down ends, half-open after it until a trial
 * succeeds, closed otherwise (pure). */
routing_circuit routing_circuit_state(const routing_channel_health *health, int64_t now_ms);
/* "closed", "open", "half_open". */
const char *routing_circuit_name(routing_circuit circuit);

#endif
