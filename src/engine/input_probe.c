/* input_probe.c — a media input's kind, container, duration and size at submit time: a guarded range
 * reader (net) under libavformat (media_probe_io), or media_probe on reelay's own stored file; results
 * cached by URL with single-flight, so repeated or concurrent submits of one input probe it once. */
#include "engine/input_probe.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/range_reader.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/str_map.h"

enum {
    INPUT_PROBE_DEFAULT_MAX_READ = 64 * 1024 * 1024,
    INPUT_PROBE_DEFAULT_TIMEOUT_MS = 20 * 1000,
    INPUT_PROBE_CACHE_DEFAULT_CAPACITY = 4096,
    INPUT_PROBE_CACHE_DEFAULT_TTL_MS = 10 * 60 * 1000,
    INPUT_PROBE_CACHE_DEFAULT_FAILURE_TTL_MS = 30 * 1000,
    INPUT_PROBE_CACHE_MAX_URL = 2048, /* longer URLs are probed but not kept */
};

const char *input_probe_kind_name(input_probe_kind kind)
{
    switch (kind) {
    case INPUT_PROBE_OK:
        return "ok";
    case INPUT_PROBE_INVALID_URL:
        return "invalid_url";
    case INPUT_PROBE_UNREACHABLE:
        return "unreachable";
    case INPUT_PROBE_BLOCKED:
        return "blocked";
    case INPUT_PROBE_TOO_LARGE:
        return "too_large";
    case INPUT_PROBE_NOT_MEDIA:
        return "not_media";
    case INPUT_PROBE_TIMEOUT:
        return "timeout";
    }
    return "unknown";
}

static int input_probe_fail(input_probe_error *err, input_probe_kind kind, fetch_result fetch,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int input_probe_fail(input_probe_error *err, input_probe_kind kind, fetch_result fetch,
                            const char *fmt, ...)
{
    err->kind = kind;
    err->fetch = fetch;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static input_probe_kind input_probe_kind_of_fetch(fetch_result result)
{
    switch (result) {
    case FETCH_OK:
        return INPUT_PROBE_OK;
    case FETCH_INVALID_URL:
        return INPUT_PROBE_INVALID_URL;
    case FETCH_BLOCKED:
        return INPUT_PROBE_BLOCKED;
    case FETCH_TOO_LARGE:
        return INPUT_PROBE_TOO_LARGE;
    case FETCH_TIMEOUT:
        return INPUT_PROBE_TIMEOUT;
    case FETCH_UNREACHABLE:
    case FETCH_HTTP_STATUS:
        break;
    }
    return INPUT_PROBE_UNREACHABLE;
}

/* ---- probing ---- */

static ssize_t input_probe_read_at(void *context, int64_t offset, void *buffer, size_t length)
{
    return range_reader_read(context, offset, buffer, length);
}

/* The URL's path (from the first '/' after the authority), for libavformat's extension hints; "" if
 * none. media_probe_io keeps only a harmless file name of it. */
static const char *input_probe_url_path(const char *url)
{
    const char *authority = strstr(url, "://");
    if (authority == NULL) return "";
    authority += 3;
    size_t length = strcspn(authority, "/?#");
    return authority[length] == '/' ? authority + length : "";
}

static int input_probe_local(const char *path, media_info *out, input_probe_error *err)
{
    if (access(path, R_OK) != 0)
        return input_probe_fail(err, INPUT_PROBE_UNREACHABLE, FETCH_OK, "the stored file is no longer there");
    char message[256] = "";
    if (media_probe(path, out, message, sizeof(message)) != 0)
        return input_probe_fail(err, INPUT_PROBE_NOT_MEDIA, FETCH_OK, "%s", message);
    return 0;
}

static int input_probe_remote(const input_probe_config *cfg, const char *url, media_info *out,
                              input_probe_error *err)
{
    size_t max_read = cfg->max_read_bytes > 0 ? cfg->max_read_bytes : INPUT_PROBE_DEFAULT_MAX_READ;
    long timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : INPUT_PROBE_DEFAULT_TIMEOUT_MS;
    range_reader_limits limits;
    range_reader_limits_init(&limits);
    limits.max_read_bytes = max_read;
    limits.total_timeout_ms = timeout_ms;
    if (limits.whole_body_cap > max_read) limits.whole_body_cap = max_read;

    int64_t started_ms = clock_monotonic_ms();
    fetch_result result = FETCH_OK;
    char message[256] = "";
    range_reader *reader = range_reader_open(url, cfg->policy, &limits, &result, message, sizeof(message));
    if (reader == NULL)
        return input_probe_fail(err, input_probe_kind_of_fetch(result), result, "%s", message);

    media_source source = {
        .read_at = input_probe_read_at,
        .context = reader,
        .size = range_reader_size(reader),
        /* the demuxer may re-read what the reader holds; the network budget is the reader's */
        .max_read_bytes = (uint64_t)max_read * 2,
        .timeout_ms = 0, /* set below: what is left of the budget the reader started at open */
        .forward_only = !range_reader_ranges_supported(reader),
    };
    int64_t left_ms = timeout_ms - (clock_monotonic_ms() - started_ms);
    source.timeout_ms = left_ms < 1 ? 1 : left_ms > INT_MAX ? INT_MAX : (int)left_ms;
    int status = media_probe_io(&source, input_probe_url_path(url), out, message, sizeof(message));
    int rc = 0;
    switch (status) {
    case MEDIA_PROBE_OK:
        break;
    case MEDIA_PROBE_READ_FAILED:
        result = range_reader_error(reader, message, sizeof(message));
        if (result == FETCH_OK) /* not the reader's doing: the demuxer gave up */
            rc = input_probe_fail(err, INPUT_PROBE_UNREACHABLE, FETCH_UNREACHABLE,
                                  "the file could not be read");
        else
            rc = input_probe_fail(err, input_probe_kind_of_fetch(result), result, "%s", message);
        break;
    case MEDIA_PROBE_TOO_MANY_BYTES:
        rc = input_probe_fail(err, INPUT_PROBE_TOO_LARGE, FETCH_OK, "%s", message);
        break;
    case MEDIA_PROBE_TIMEOUT:
        rc = input_probe_fail(err, INPUT_PROBE_TIMEOUT, FETCH_OK, "%s", message);
        break;
    default:
        rc = input_probe_fail(err, INPUT_PROBE_NOT_MEDIA, FETCH_OK, "%s", message);
        break;
    }
    log_debug("input probed", "bytes=%llu size=%lld requests=%u result=%s",
              (unsigned long long)range_reader_bytes_read(reader), (long long)range_reader_size(reader),
              range_reader_request_count(reader), rc == 0 ? "ok" : input_probe_kind_name(err->kind));
    range_reader_close(reader);
    return rc;
}

/* ---- the cache ---- */

typedef struct cache_entry {
    char *url;                         /* the key in the cache's map */
    struct cache_entry *newer, *older; /* recency list */
    bool pending;                      /* a probe is running: others wait for it */
    int rc;
    media_info info;
    input_probe_error error;
    int64_t expires_ms;
} cache_entry;

struct input_probe_cache {
    pthread_mutex_t mutex;
    pthread_cond_t settled; /* a pending entry got its answer */
    str_map entries;        /* url → cache_entry */
    cache_entry *newest, *oldest;
    size_t count, capacity;
    int64_t ttl_ms, failure_ttl_ms;
};

input_probe_cache *input_probe_cache_create(size_t capacity, int64_t ttl_ms, int64_t failure_ttl_ms)
{
    input_probe_cache *cache = calloc(1, sizeof(*cache));
    if (cache == NULL) return NULL;
    cache->capacity = capacity > 0 ? capacity : INPUT_PROBE_CACHE_DEFAULT_CAPACITY;
    cache->ttl_ms = ttl_ms > 0 ? ttl_ms : INPUT_PROBE_CACHE_DEFAULT_TTL_MS;
    cache->failure_ttl_ms = failure_ttl_ms > 0 ? failure_ttl_ms : INPUT_PROBE_CACHE_DEFAULT_FAILURE_TTL_MS;
    str_map_init(&cache->entries);
    if (pthread_mutex_init(&cache->mutex, NULL) != 0) {
        free(cache);
        return NULL;
    }
    if (pthread_cond_init(&cache->settled, NULL) != 0) {
        pthread_mutex_destroy(&cache->mutex);
        free(cache);
        return NULL;
    }
    return cache;
}

void input_probe_cache_destroy(input_probe_cache *cache)
{
    if (cache == NULL) return;
    for (cache_entry *e = cache->newest, *next; e != NULL; e = next) {
        next = e->older;
        free(e->url);
        free(e);
    }
    pthread_cond_destroy(&cache->settled);
    pthread_mutex_destroy(&cache->mutex);
    str_map_free(&cache->entries);
    free(cache);
}

size_t input_probe_cache_count(input_probe_cache *cache)
{
    pthread_mutex_lock(&cache->mutex);
    size_t count = cache->count;
    pthread_mutex_unlock(&cache->mutex);
    return count;
}

/* The helpers below run with the mutex held. */

static cache_entry *cache_find(input_probe_cache *cache, const char *url)
{
    return str_map_get(&cache->entries, url);
}

static void cache_unlink_recency(input_probe_cache *cache, cache_entry *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        cache->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        cache->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void cache_link_newest(input_probe_cache *cache, cache_entry *e)
{
    e->newer = NULL;
    e->older = cache->newest;
    if (cache->newest) cache->newest->newer = e;
    cache->newest = e;
    if (cache->oldest == NULL) cache->oldest = e;
}

static void cache_touch(input_probe_cache *cache, cache_entry *e)
{
    cache_unlink_recency(cache, e);
    cache_link_newest(cache, e);
}

static void cache_remove(input_probe_cache *cache, cache_entry *e)
{
    cache_entry *removed = str_map_remove(&cache->entries, e->url);
    assert(removed == e);
    (void)removed;
    cache_unlink_recency(cache, e);
    cache->count--;
    free(e->url);
    free(e);
}

/* Drops the least recently used settled entries beyond capacity (a pending one is someone's probe in
 * progress: it stays, and the cache is over capacity by at most the probes running). */
static void cache_evict(input_probe_cache *cache)
{
    cache_entry *e = cache->oldest;
    while (cache->count > cache->capacity && e != NULL) {
        cache_entry *newer = e->newer;
        if (!e->pending) cache_remove(cache, e);
        e = newer;
    }
}

static cache_entry *cache_insert_pending(input_probe_cache *cache, const char *url)
{
    cache_entry *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    e->url = strdup(url);
    if (e->url == NULL || !str_map_put(&cache->entries, e->url, e)) {
        free(e->url);
        free(e);
        return NULL;
    }
    e->pending = true;
    cache->count++;
    cache_link_newest(cache, e);
    cache_evict(cache);
    return e;
}

static int input_probe_uncached(const input_probe_config *cfg, const char *url, media_info *out,
                                input_probe_error *err)
{
    int rc = input_probe_remote(cfg, url, out, err);
    if (rc != 0) memset(out, 0, sizeof(*out));
    return rc;
}

int input_probe(const input_probe_config *cfg, const char *url, media_info *out, input_probe_error *err)
{
    input_probe_config defaults = {0};
    if (cfg == NULL) cfg = &defaults;
    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    if (url == NULL || *url == '\0')
        return input_probe_fail(err, INPUT_PROBE_INVALID_URL, FETCH_INVALID_URL, "no URL given");

    char path[4096];
    if (cfg->resolve_local != NULL && cfg->resolve_local(cfg->resolve_context, url, path, sizeof(path))) {
        int rc = input_probe_local(path, out, err);
        if (rc != 0) memset(out, 0, sizeof(*out));
        return rc;
    }
    int own_rc = 0;
    if (cfg->probe_own_object != NULL && cfg->probe_own_object(cfg->resolve_context, url, out, err, &own_rc))
        return own_rc;

    input_probe_cache *cache = cfg->cache;
    if (cache == NULL || strlen(url) > INPUT_PROBE_CACHE_MAX_URL)
        return input_probe_uncached(cfg, url, out, err);

    pthread_mutex_lock(&cache->mutex);
    cache_entry *e;
    for (;;) {
        e = cache_find(cache, url);
        if (e == NULL) break;
        if (e->pending) { /* someone is probing it: share their answer */
            pthread_cond_wait(&cache->settled, &cache->mutex);
            continue;
        }
        if (e->expires_ms > clock_monotonic_ms()) {
            *out = e->info;
            *err = e->error;
            int rc = e->rc;
            cache_touch(cache, e);
            pthread_mutex_unlock(&cache->mutex);
            return rc;
        }
        e->pending = true; /* expired: probe it again in place */
        cache_touch(cache, e);
        break;
    }
    if (e == NULL) e = cache_insert_pending(cache, url);
    pthread_mutex_unlock(&cache->mutex);
    if (e == NULL) return input_probe_uncached(cfg, url, out, err); /* out of memory: no caching */

    int rc = input_probe_uncached(cfg, url, out, err);

    pthread_mutex_lock(&cache->mutex);
    e->rc = rc;
    e->info = *out;
    e->error = *err;
    e->expires_ms = clock_monotonic_ms() + (rc == 0 ? cache->ttl_ms : cache->failure_ttl_ms);
    e->pending = false;
    cache_evict(cache); /* it may have been kept over capacity while pending */
    pthread_cond_broadcast(&cache->settled);
    pthread_mutex_unlock(&cache->mutex);
    return rc;
}
