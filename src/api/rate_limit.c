/* rate_limit.c — per-key request counters in fixed one-minute windows (see rate_limit.h).
 *
 * A fixed table of slots, found by a hash of the key id with a short linear probe, each slot guarded
 * by one of a few striped locks. A slot whose window has passed is free for any key. If every probed
 * slot is busy with other keys' current windows (thousands of active limited keys at once), the
 * request is counted in the least-used probed slot it shares — a key is then limited a little early,
 * never late. Each slot holds this node's count, the other nodes' count (from the exchange) and the
 * count last recorded in the database. */
#include "api/rate_limit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { SLOTS = RATE_LIMIT_MAX_KEYS, PROBE = 8, STRIPES = 64 };
_Static_assert(SLOTS % STRIPES == 0, "a slot's stripe is its index modulo STRIPES");

typedef struct slot {
    char key_id[32];
    int64_t window; /* minute number (Unix ms / 60000) */
    int count;      /* requests this node accepted in the window */
    int64_t others; /* requests the other nodes accepted in the window, as last learned */
    int sent;       /* the count the database has recorded */
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

static uint32_t first_slot(const char *key_id)
{
    return hash_id(key_id) % SLOTS;
}

/* All probed slots share the stripe of the first one, so one lock covers the probe. */
static pthread_mutex_t *stripe_of(uint32_t index)
{
    return &stripes[index % STRIPES];
}

/* How far find_slot goes when the key has no slot of the window yet. */
typedef enum { FIND_ONLY, FIND_OR_TAKE_FREE, FIND_TAKE_FREE_OR_SHARE } slot_search;

/* Under the stripe's lock: the key's slot of `window`; else, unless FIND_ONLY, a free one taken for it;
 * else, with FIND_TAKE_FREE_OR_SHARE, the least-used probed slot (of the window); else NULL. */
static slot *find_slot(const char *key_id, uint32_t start, int64_t window, slot_search search)
{
    slot *least_used = NULL;
    for (int i = 0; i < PROBE; i++) {
        slot *candidate = &slots[(start + (uint32_t)i * STRIPES) % SLOTS];
        if (candidate->window == window && strcmp(candidate->key_id, key_id) == 0) return candidate;
    }
    if (search == FIND_ONLY) return NULL;
    for (int i = 0; i < PROBE; i++) {
        slot *candidate = &slots[(start + (uint32_t)i * STRIPES) % SLOTS];
        /* a slot of a past window is free; a take (the present) also reuses one of a "future" window
         * (the clock went back), the exchange's late answers never do */
        bool free_slot =
            search == FIND_TAKE_FREE_OR_SHARE ? candidate->window != window : candidate->window < window;
        if (free_slot) {
            snprintf(candidate->key_id, sizeof(candidate->key_id), "%s", key_id);
            candidate->window = window;
            candidate->count = candidate->sent = 0;
            candidate->others = 0;
            return candidate;
        }
        if (least_used == NULL || candidate->count < least_used->count) least_used = candidate;
    }
    return search == FIND_TAKE_FREE_OR_SHARE ? least_used : NULL;
}

rate_verdict rate_limit_take(const char *key_id, int limit, int64_t now_ms)
{
    int64_t window = now_ms / 60000;
    uint32_t start = first_slot(key_id);
    pthread_mutex_t *lock = stripe_of(start);
    pthread_mutex_lock(lock);
    slot *chosen = find_slot(key_id, start, window, FIND_TAKE_FREE_OR_SHARE);
    int64_t used = chosen->count + chosen->others;
    rate_verdict verdict = {.limit = limit};
    verdict.allowed = used < limit;
    if (verdict.allowed) {
        chosen->count++;
        used++;
    }
    verdict.remaining = used >= limit ? 0 : (int)(limit - used);
    pthread_mutex_unlock(lock);
    verdict.reset_seconds = (int)(((window + 1) * 60000 - now_ms + 999) / 1000);
    if (verdict.reset_seconds < 1) verdict.reset_seconds = 1;
    return verdict;
}

size_t rate_limit_collect(int64_t window, rate_count *out, size_t capacity)
{
    size_t used = 0;
    for (uint32_t stripe = 0; stripe < STRIPES && used < capacity; stripe++) {
        pthread_mutex_lock(&stripes[stripe]);
        for (uint32_t index = stripe; index < SLOTS && used < capacity; index += STRIPES) {
            const slot *candidate = &slots[index];
            if (candidate->window != window || candidate->count == candidate->sent) continue;
            memset(&out[used], 0, sizeof(out[used]));
            snprintf(out[used].key_id, sizeof(out[used].key_id), "%s", candidate->key_id);
            out[used++].count = candidate->count;
        }
        pthread_mutex_unlock(&stripes[stripe]);
    }
    return used;
}

void rate_limit_mark_sent(int64_t window, const rate_count *sent, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t start = first_slot(sent[i].key_id);
        pthread_mutex_lock(stripe_of(start));
        slot *found = find_slot(sent[i].key_id, start, window, FIND_ONLY);
        if (found && found->sent < sent[i].count) found->sent = (int)sent[i].count;
        pthread_mutex_unlock(stripe_of(start));
    }
}

void rate_limit_apply_others(int64_t window, const rate_count *others, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (others[i].key_id[0] == '\0' || memchr(others[i].key_id, '\0', sizeof(others[i].key_id)) == NULL)
            continue;
        uint32_t start = first_slot(others[i].key_id);
        pthread_mutex_lock(stripe_of(start));
        slot *found = find_slot(others[i].key_id, start, window, FIND_OR_TAKE_FREE);
        if (found && found->others < others[i].count) found->others = others[i].count;
        pthread_mutex_unlock(stripe_of(start));
    }
}
