/* rate_limit.h — requests per minute per API key, shared by every HTTP thread of the process.
 *
 * Fixed one-minute windows aligned to the clock (a window starts at each whole minute): a key with a
 * limit of N may make N authenticated requests per window; the next one is refused until the window
 * ends. Every authenticated request counts (creating, polling, listing …). The counters live in this
 * process only: on several nodes each enforces the limit on its own share. Thread-safe. */
#ifndef REELAY_API_RATE_LIMIT_H
#define REELAY_API_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct rate_verdict {
    bool allowed;
    int limit;         /* the key's limit */
    int remaining;     /* requests left in this window after this one */
    int reset_seconds; /* seconds until the window ends (≥ 1) */
} rate_verdict;

/* Counts one request of key_id against limit (> 0) at now_ms (Unix milliseconds). */
rate_verdict rate_limit_take(const char *key_id, int limit, int64_t now_ms);

#endif
