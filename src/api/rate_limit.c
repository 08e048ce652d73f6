/* rate_limit.c — per-key request counters in fixed one-minute windows (see rate_limit.h).
 *
 * A fixed table of slots, found by a hash of the key id with a short linear probe, each slot guarded
 * by one of a few striped locks. A slot whose window has passed is free for any key. If every probed
 * slot is busy with other keys' current windows (thousands of active limited keys at once), the
 * request is counted in the least-used probed slot it shares — a key is then limited a little early,
 * never late. */
#include "api/rate_limit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { SLOTS = 8192, PROBE = 8, STRIPES = 64 };

typedef struct slot {
    char key_id[32];
    int64_t window; /* minute number (Unix ms / 60000) */
    int count;
} slot;

static slot slots[SLOTS];
static pthread_mutex_t stripes[STRIPES] = {[0 ... STRIPES - 1] = PTHREAD_MUTEX_INITIALIZER};

static uint32_t hash_id(const char *id)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return hash;
}

rate_verdict rate_limit_take(const char *key_id, int limit, int64_t now_ms)
{
    int64_t window = now_ms / 60000;
    uint32_t start = hash_id(key_id) % SLOTS;
    /* all probed slots share the stripe of the first one, so one lock covers the probe */
    pthread_mutex_t *lock = &stripes[start % STRIPES];
    pthread_mutex_lock(lock);
    slot *chosen = NULL, *least_used = NULL;
    for (int i = 0; i < PROBE && chosen == NULL; i++) {
        slot *candidate = &slots[(start + (uint32_t)i * STRIPES) % SLOTS];
        if (candidate->window == window && strcmp(candidate->key_id, key_id) == 0) chosen = candidate;
    }
    for (int i = 0; i < PROBE && chosen == NULL; i++) {
        slot *candidate = &slots[(start + (uint32_t)i * STRIPES) % SLOTS];
        if (candidate->window != window) {
            chosen = candidate;
            snprintf(chosen->key_id, sizeof(chosen->key_id), "%s", key_id);
            chosen->window = window;
            chosen->count = 0;
        } else if (least_used == NULL || candidate->count < least_used->count) {
            least_used = candidate;
        }
    }
    if (chosen == NULL) chosen = least_used;
    rate_verdict verdict = {.limit = limit};
    verdict.allowed = chosen->count < limit;
    if (verdict.allowed) chosen->count++;
    verdict.remaining = limit - chosen->count;
    if (verdict.remaining < 0) verdict.remaining = 0;
    pthread_mutex_unlock(lock);
    verdict.reset_seconds = (int)(((window + 1) * 60000 - now_ms + 999) / 1000);
    if (verdict.reset_seconds < 1) verdict.reset_seconds = 1;
    return verdict;
}
