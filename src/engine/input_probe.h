/* input_probe.h — what a task's media input is (kind, container, duration, size), learned at submit
 * time without downloading it: the guarded range reader of net/range_reader.h feeds libavformat through
 * media_probe_io, so an MP4 with its index at the end costs a few ranges; an input that is one of
 * reelay's own stored files (an upload) is probed where it lies, with media_probe.
 *
 * Results are cached by URL (successes for a while, failures briefly), and concurrent probes of one
 * URL share a single probe. Blocking, bounded in bytes and time: call from a worker thread, never from
 * an HTTP thread. */
#ifndef REELAY_ENGINE_INPUT_PROBE_H
#define REELAY_ENGINE_INPUT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/media.h"
#include "net/fetch.h"

typedef enum {
    INPUT_PROBE_OK = 0,
    INPUT_PROBE_INVALID_URL, /* not an absolute http(s) URL */
    INPUT_PROBE_UNREACHABLE, /* could not be read: DNS, connection, TLS, an error status, a broken answer */
    INPUT_PROBE_BLOCKED,     /* a non-public address that is not allow-listed, or a redirect off http(s) */
    INPUT_PROBE_TOO_LARGE,   /* over the policy's max_bytes, or probing it needs more than the read budget
                                (also: a server without range support and an index past the first 16 MiB) */
    INPUT_PROBE_NOT_MEDIA,   /* read fine, but no audio, video or image libavformat understands */
    INPUT_PROBE_TIMEOUT,     /* the time budget ran out (connecting, a slow server, a slow demuxer) */
} input_probe_kind;

/* "ok", "invalid_url", "unreachable", "blocked", "too_large", "not_media", "timeout". */
const char *input_probe_kind_name(input_probe_kind kind);

typedef struct input_probe_error {
    input_probe_kind kind;
    fetch_result fetch; /* the fetch failure behind kind (e.g. FETCH_HTTP_STATUS for an UNREACHABLE 404);
                           FETCH_OK when the bytes were read but are not media, or for a local file */
    char message[256];  /* why, for a user: never the URL (it may carry credentials) */
} input_probe_error;

/* Answers true and fills path when url names one of reelay's own stored files (its uploads), which is
 * then probed locally, past the guard and the cache. */
typedef bool (*input_probe_resolve_local_fn)(void *context, const char *url, char *path, size_t path_size);

/* Answers true after probing url itself when it names one of reelay's own objects that are not local
 * files (S3 storage), with *rc 0 and *out, or -1 and *err; false when it is not one (probed as usual). */
typedef bool (*input_probe_own_object_fn)(void *context, const char *url, media_info *out,
                                          input_probe_error *err, int *rc);

/* The cache: at most capacity URLs (least recently used go first), successes kept ttl_ms, failures
 * failure_ttl_ms. 0 for any of them = 4096 entries, 10 min, 30 s. Thread-safe. URLs longer than 2 KiB
 * are probed but not cached. NULL when out of memory. */
typedef struct input_probe_cache input_probe_cache;
input_probe_cache *input_probe_cache_create(size_t capacity, int64_t ttl_ms, int64_t failure_ttl_ms);
/* No probe may be running with it. NULL is ignored. */
void input_probe_cache_destroy(input_probe_cache *cache);
/* Entries held now (for tests and metrics). */
size_t input_probe_cache_count(input_probe_cache *cache);

typedef struct input_probe_config {
    const fetch_policy *policy;                 /* guard and size limit; NULL = fetch_policy_init's. The cache
                                                   assumes one policy per cache. */
    size_t max_read_bytes;                      /* bytes one probe may read; 0 = 64 MiB */
    long timeout_ms;                            /* one probe's time; 0 = 20 s */
    input_probe_resolve_local_fn resolve_local; /* NULL = no local files */
    input_probe_own_object_fn probe_own_object; /* NULL = no objects in a bucket */
    void *resolve_context;                      /* for both */
    input_probe_cache *cache;                   /* NULL = no caching, no sharing */
} input_probe_config;

/* Probes the media at url. Returns 0 and fills *out (media_info as media_probe fills it, size = the
 * file's bytes), or -1 with *err (out zeroed). cfg may be NULL (defaults, no cache). */
int input_probe(const input_probe_config *cfg, const char *url, media_info *out, input_probe_error *err);

#endif
