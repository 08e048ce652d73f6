/* range_reader.c — parts of a remote file by HTTP range requests on one kept-alive, guarded
 * connection (see range_reader.h). Every answer is checked against what was asked before its body is
 * taken, every byte counts against one budget, and the first failure is sticky. */
#include "net/range_reader.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/curl_setup.h"
#include "util/clock.h"
#include "util/log.h"

enum {
    RANGE_READER_DEFAULT_MAX_READ = 64 * 1024 * 1024,
    RANGE_READER_DEFAULT_TIMEOUT_MS = 30 * 1000,
    RANGE_READER_DEFAULT_READ_AHEAD = 64 * 1024,
    RANGE_READER_DEFAULT_WHOLE_CAP = 16 * 1024 * 1024,
    RANGE_READER_MAX_CHUNK = 8 * 1024 * 1024, /* one range request asks for at most this much */
    RANGE_READER_MAX_URL_LENGTH = 16 * 1024,  /* as for downloads (fetch.c) */
};

void range_reader_limits_init(range_reader_limits *limits)
{
    limits->max_read_bytes = RANGE_READER_DEFAULT_MAX_READ;
    limits->total_timeout_ms = RANGE_READER_DEFAULT_TIMEOUT_MS;
    limits->read_ahead = RANGE_READER_DEFAULT_READ_AHEAD;
    limits->whole_body_cap = RANGE_READER_DEFAULT_WHOLE_CAP;
}

struct range_reader {
    CURL *easy;
    CURLU *parsed;
    fetch_policy policy;
    range_reader_limits limits;
    net_guard guard; /* the open-socket hook's state, as for a download */
    char host[NET_HOST_SIZE];
    char error_buffer[CURL_ERROR_SIZE];
    long timeout_ms; /* the time budget in force: limits and policy combined */
    int64_t deadline_ms;
    int64_t size;   /* -1 while unknown */
    bool ranges;    /* the server answered 206 */
    bool whole;     /* the server answered 200: buffer holds its body from offset 0 */
    bool whole_cut; /* ... cut off at the cap or the budget (the file goes on) */
    /* The block last received: buffer_length bytes of the file from buffer_offset. */
    unsigned char *buffer;
    size_t buffer_capacity;
    int64_t buffer_offset;
    size_t buffer_length;
    uint64_t bytes_read;
    unsigned requests;
    /* The request in flight. */
    int64_t want_start, want_end; /* inclusive, as in the Range header */
    bool checked;                 /* the final response's status and headers were examined */
    bool eof;                     /* 416: nothing at want_start */
    int64_t expect_length;        /* 206: the body length Content-Range announced */
    fetch_result request_failure; /* set by a callback that stopped the transfer, with its reason */
    char request_message[224];
    /* Sticky failure. */
    fetch_result failure;
    char failure_message[256];
};

static void range_reader_stop(range_reader *r, fetch_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void range_reader_stop(range_reader *r, fetch_result result, const char *fmt, ...)
{
    if (r->request_failure != FETCH_OK) return; /* the first reason is the real one */
    r->request_failure = result;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->request_message, sizeof(r->request_message), fmt, ap);
    va_end(ap);
}

static ssize_t range_reader_fail(range_reader *r, fetch_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ssize_t range_reader_fail(range_reader *r, fetch_result result, const char *fmt, ...)
{
    if (r->failure == FETCH_OK) {
        r->failure = result;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->failure_message, sizeof(r->failure_message), fmt, ap);
        va_end(ap);
        log_info("range read failed", "host=%s result=%s bytes=%llu requests=%u", r->host,
                 fetch_result_name(result), (unsigned long long)r->bytes_read, r->requests);
    }
    errno = EIO;
    return -1;
}

/* A decimal of at most 18 digits (so it fits int64_t with room to add 1). */
static bool range_parse_offset(const char **cursor, int64_t *out)
{
    const char *p = *cursor;
    int64_t value = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 18) return false;
        value = value * 10 + (*p - '0');
    }
    if (digits == 0) return false;
    *cursor = p;
    *out = value;
    return true;
}

/* "bytes S-E/T", "bytes S-E/<star>" or "bytes <star>/T" (the last only in a 416; <star> is '*'). *start and
 * *end are -1 for a
 * "*" range, *total -1 for a "*" length. Anything else — other units, signs, spaces inside numbers,
 * overflow, E < S, T ≤ E, trailing text — is refused. */
static bool range_parse_content_range(const char *text, int64_t *start, int64_t *end, int64_t *total)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bytes", 5) != 0) return false;
    p += 5;
    if (*p != ' ') return false;
    while (*p == ' ')
        p++;
    if (*p == '*') {
        *start = *end = -1;
        p++;
    } else {
        if (!range_parse_offset(&p, start) || *p++ != '-' || !range_parse_offset(&p, end) || *end < *start)
            return false;
    }
    if (*p++ != '/') return false;
    if (*p == '*') {
        *total = -1;
        p++;
    } else if (!range_parse_offset(&p, total)) {
        return false;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0') return false;
    if (*start < 0 && *total < 0) return false;                     /* star-slash-star says nothing */
    if (*start >= 0 && *total >= 0 && *total <= *end) return false; /* a range past the end */
    return true;
}

/* The value of the final response's only Content-Range header, or NULL (none, or several). */
static const char *range_reader_content_range(range_reader *r)
{
    struct curl_header *header = NULL;
    if (curl_easy_header(r->easy, "Content-Range", 0, CURLH_HEADER, -1, &header) != CURLHE_OK ||
        header == NULL || header->amount != 1 || header->value == NULL)
        return NULL;
    return header->value;
}

static bool range_reader_size_agrees(range_reader *r, int64_t total)
{
    if (r->size >= 0 && total != r->size) {
        range_reader_stop(r, FETCH_UNREACHABLE, "%s changed the file's size while it was read", r->host);
        return false;
    }
    if ((uint64_t)total > (uint64_t)r->policy.max_bytes) {
        range_reader_stop(r, FETCH_TOO_LARGE, "more than %zu bytes", r->policy.max_bytes);
        return false;
    }
    r->size = total;
    return true;
}

/* Examines the final response's status and headers once, before its body is taken: 206 with exactly
 * the range asked for, 200 (Range ignored), or 416 at the end of the file. False (with the reason
 * recorded) for anything else. */
static bool range_reader_check_response(range_reader *r)
{
    r->checked = true;
    long status = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    int64_t start = 0, end = 0, total = 0;
    if (status == 206) {
        char *type = NULL;
        if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL &&
            strncasecmp(type, "multipart/", 10) == 0) {
            range_reader_stop(r, FETCH_UNREACHABLE, "%s answered with several ranges", r->host);
            return false;
        }
        const char *range = range_reader_content_range(r);
        if (range == NULL || !range_parse_content_range(range, &start, &end, &total) ||
            start != r->want_start || end > r->want_end) {
            range_reader_stop(r, FETCH_UNREACHABLE, "%s answered with an invalid Content-Range", r->host);
            return false;
        }
        if (total >= 0 && !range_reader_size_agrees(r, total)) return false;
        r->ranges = true;
        r->expect_length = end - start + 1;
        return true;
    }
    if (status == 200) {
        curl_off_t length = -1;
        if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK) length = -1;
        if (length >= 0 && !range_reader_size_agrees(r, (int64_t)length)) return false;
        r->ranges = false;
        r->whole = true;
        r->whole_cut = false;
        r->buffer_offset = 0;
        r->buffer_length = 0;
        return true;
    }
    if (status == 416) {
        const char *range = range_reader_content_range(r);
        if (range != NULL && range_parse_content_range(range, &start, &end, &total) && start < 0 &&
            r->want_start >= total) {
            if (!range_reader_size_agrees(r, total)) return false;
            r->eof = true;
            return true;
        }
    }
    range_reader_stop(r, FETCH_HTTP_STATUS, "the server answered %ld", status);
    return false;
}

/* Bodies land here: a 206 into the block buffer (never more than announced), a 200 from offset 0 up
 * to the cap. Every byte counts against the read budget, redirect and error-page bodies included. */
static size_t range_reader_write(char *data, size_t size, size_t count, void *userdata)
{
    range_reader *r = userdata;
    size_t length = size * count; /* libcurl documents size as always 1 */
    uint64_t budget_left = r->limits.max_read_bytes - r->bytes_read;
    long status = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (status >= 300 && status <= 399) {
        if (length > budget_left) goto over_budget;
        r->bytes_read += length;
        return length;
    }
    if (!r->checked && !range_reader_check_response(r)) return 0;
    if (r->eof) { /* the 416's own body: noise, read so the connection can be reused */
        if (length > budget_left) goto over_budget;
        r->bytes_read += length;
        return length;
    }
    if (r->whole) {
        size_t keep = length;
        size_t cap = r->limits.whole_body_cap;
        if (keep > cap - r->buffer_length) keep = cap - r->buffer_length;
        if (keep > budget_left) keep = (size_t)budget_left;
        if (r->buffer_length + keep > r->buffer_capacity) {
            size_t capacity = r->buffer_capacity < 64 * 1024 ? 64 * 1024 : r->buffer_capacity;
            while (capacity < r->buffer_length + keep)
                capacity = capacity > cap / 2 ? cap : capacity * 2;
            unsigned char *grown = realloc(r->buffer, capacity);
            if (grown == NULL) {
                range_reader_stop(r, FETCH_UNREACHABLE, "out of memory");
                return 0;
            }
            r->buffer = grown;
            r->buffer_capacity = capacity;
        }
        memcpy(r->buffer + r->buffer_length, data, keep);
        r->buffer_length += keep;
        r->bytes_read += keep;
        if (keep < length) {
            r->whole_cut = true; /* stops the transfer; what was kept stays readable */
            return 0;
        }
        return length;
    }
    /* 206 */
    if ((uint64_t)length > (uint64_t)(r->expect_length - (int64_t)r->buffer_length)) {
        range_reader_stop(r, FETCH_UNREACHABLE, "%s sent more than the range it announced", r->host);
        return 0;
    }
    if (length > budget_left) goto over_budget;
    memcpy(r->buffer + r->buffer_length, data, length); /* capacity ≥ the range asked ≥ expect_length */
    r->buffer_length += length;
    r->bytes_read += length;
    return length;

over_budget:
    range_reader_stop(r, FETCH_TOO_LARGE, "reading it needs more than %zu bytes", r->limits.max_read_bytes);
    return 0;
}

/* Later ranges go straight to where the redirects led (the guard still checks every connection). */
static void range_reader_follow_redirect(range_reader *r)
{
    long redirects = 0;
    char *effective = NULL;
    if (curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_COUNT, &redirects) != CURLE_OK || redirects <= 0 ||
        curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &effective) != CURLE_OK || effective == NULL)
        return;
    CURLU *target = curl_url();
    if (target == NULL) return;
    if (curl_url_set(target, CURLUPART_URL, effective, 0) != CURLUE_OK ||
        curl_easy_setopt(r->easy, CURLOPT_CURLU, target) != CURLE_OK) {
        curl_url_cleanup(target);
        return;
    }
    curl_url_cleanup(r->parsed);
    r->parsed = target;
}

/* Fails the reader for a request libcurl could not complete (code). */
static void range_reader_transport_failed(range_reader *r, CURLcode code)
{
    if (code == CURLE_OPERATION_TIMEDOUT) {
        curl_off_t connected_us = 0;
        if (curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected_us) != CURLE_OK) connected_us = 0;
        if (connected_us == 0)
            range_reader_fail(r, FETCH_TIMEOUT, "could not connect to %s in time", r->host);
        else
            range_reader_fail(r, FETCH_TIMEOUT, "%s was too slow: reading took more than %ld ms", r->host,
                              r->timeout_ms);
        return;
    }
    if (code == CURLE_PARTIAL_FILE) {
        range_reader_fail(r, FETCH_UNREACHABLE, "%s cut the answer short", r->host);
        return;
    }
    char message[256];
    fetch_result result = net_curl_describe_failure(code, r->easy, &r->guard, &r->policy, r->host,
                                                    r->error_buffer, message, sizeof(message));
    range_reader_fail(r, result, "%s", message);
}

/* One GET of bytes start..end (inclusive). 0 on success — the buffer then holds a block starting at
 * start (206), the body from 0 (200), or eof is set (416) — else -1 with the reader failed. */
static int range_reader_request(range_reader *r, int64_t start, int64_t end)
{
    int64_t remaining_ms = r->deadline_ms - clock_monotonic_ms();
    if (remaining_ms <= 0) {
        range_reader_fail(r, FETCH_TIMEOUT, "%s was too slow: reading took more than %ld ms", r->host,
                          r->timeout_ms);
        return -1;
    }
    size_t wanted = (size_t)(end - start + 1);
    if (wanted > r->buffer_capacity) {
        unsigned char *grown = realloc(r->buffer, wanted);
        if (grown == NULL) {
            range_reader_fail(r, FETCH_UNREACHABLE, "out of memory");
            return -1;
        }
        r->buffer = grown;
        r->buffer_capacity = wanted;
    }
    char range[64];
    snprintf(range, sizeof(range), "%lld-%lld", (long long)start, (long long)end);
    if (curl_easy_setopt(r->easy, CURLOPT_RANGE, range) != CURLE_OK ||
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)remaining_ms) != CURLE_OK) {
        range_reader_fail(r, FETCH_UNREACHABLE, "the HTTP client could not be set up");
        return -1;
    }
    r->want_start = start;
    r->want_end = end;
    r->checked = false;
    r->eof = false;
    r->whole = false;
    r->whole_cut = false;
    r->expect_length = 0;
    r->request_failure = FETCH_OK;
    r->request_message[0] = '\0';
    r->buffer_offset = start;
    r->buffer_length = 0;
    r->error_buffer[0] = '\0';
    r->requests++;
    CURLcode code = curl_easy_perform(r->easy);

    if (r->request_failure != FETCH_OK) {
        range_reader_fail(r, r->request_failure, "%s", r->request_message);
        r->buffer_length = 0;
        return -1;
    }
    if (code != CURLE_OK && !(r->whole && r->whole_cut && code == CURLE_WRITE_ERROR)) {
        r->buffer_length = 0;
        r->whole = false;
        range_reader_transport_failed(r, code);
        return -1;
    }
    if (!r->checked && !range_reader_check_response(r)) { /* no body at all */
        range_reader_fail(r, r->request_failure, "%s", r->request_message);
        return -1;
    }
    if (r->whole && !r->whole_cut) {
        /* The whole file is in memory (libcurl checked it against any Content-Length). */
        r->size = (int64_t)r->buffer_length;
    } else if (!r->whole && !r->eof && (int64_t)r->buffer_length != r->expect_length) {
        r->buffer_length = 0;
        range_reader_fail(r, FETCH_UNREACHABLE, "%s cut the answer short", r->host);
        return -1;
    }
    range_reader_follow_redirect(r);
    return 0;
}

range_reader *range_reader_open(const char *url, const fetch_policy *policy,
                                const range_reader_limits *limits, fetch_result *result, char *err,
                                size_t err_size)
{
    char scratch_err[8];
    if (err == NULL || err_size == 0) err = scratch_err, err_size = sizeof(scratch_err);
    err[0] = '\0';
    fetch_result scratch_result;
    if (result == NULL) result = &scratch_result;
    *result = FETCH_UNREACHABLE;
    if (!fetch_library_ready()) {
        snprintf(err, err_size, "the HTTP client could not start");
        return NULL;
    }
    range_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (policy != NULL)
        r->policy = *policy;
    else
        fetch_policy_init(&r->policy);
    range_reader_limits defaults;
    range_reader_limits_init(&defaults);
    r->limits = limits != NULL ? *limits : defaults;
    if (r->limits.max_read_bytes == 0) r->limits.max_read_bytes = defaults.max_read_bytes;
    if (r->limits.total_timeout_ms <= 0) r->limits.total_timeout_ms = defaults.total_timeout_ms;
    if (r->limits.read_ahead == 0) r->limits.read_ahead = defaults.read_ahead;
    if (r->limits.read_ahead > RANGE_READER_MAX_CHUNK) r->limits.read_ahead = RANGE_READER_MAX_CHUNK;
    if (r->limits.whole_body_cap == 0) r->limits.whole_body_cap = defaults.whole_body_cap;
    if (r->limits.whole_body_cap > r->limits.max_read_bytes)
        r->limits.whole_body_cap = r->limits.max_read_bytes;
    r->timeout_ms = r->limits.total_timeout_ms;
    if (r->policy.total_timeout_ms > 0 && r->policy.total_timeout_ms < r->timeout_ms)
        r->timeout_ms = r->policy.total_timeout_ms;
    r->deadline_ms = clock_monotonic_ms() + r->timeout_ms;
    r->size = -1;

    *result = net_url_parse(url, RANGE_READER_MAX_URL_LENGTH, "fetched", &r->parsed, r->host, sizeof(r->host),
                            err, err_size);
    if (*result != FETCH_OK) {
        range_reader_close(r);
        return NULL;
    }
    r->easy = curl_easy_init();
    net_guard_init(&r->guard, r->easy, r->policy.allow_list, NULL);
    net_curl_options options = net_curl_fetch_options(&r->policy, &r->guard);
    options.parsed_url = r->parsed;
    options.error_buffer = r->error_buffer;
    options.write_body = range_reader_write;
    options.write_body_data = r;
    CURLcode code = r->easy ? net_curl_setup(r->easy, &options) : CURLE_FAILED_INIT;
    if (code != CURLE_OK) {
        *result = FETCH_UNREACHABLE;
        snprintf(err, err_size, "the HTTP client could not be set up: %s", curl_easy_strerror(code));
        range_reader_close(r);
        return NULL;
    }
    int64_t first_end = (int64_t)r->limits.read_ahead - 1;
    if ((uint64_t)first_end >= r->limits.max_read_bytes) first_end = (int64_t)r->limits.max_read_bytes - 1;
    if (range_reader_request(r, 0, first_end) != 0) {
        *result = range_reader_error(r, err, err_size);
        range_reader_close(r);
        return NULL;
    }
    *result = FETCH_OK;
    return r;
}

ssize_t range_reader_read(range_reader *r, int64_t offset, void *buffer, size_t length)
{
    if (r == NULL || offset < 0 || (buffer == NULL && length > 0)) {
        errno = EINVAL;
        return -1;
    }
    if (r->failure != FETCH_OK) {
        errno = EIO;
        return -1;
    }
    if (length == 0) return 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->size >= 0 && offset >= r->size) return 0;
        if (offset >= r->buffer_offset && offset - r->buffer_offset < (int64_t)r->buffer_length) {
            size_t skip = (size_t)(offset - r->buffer_offset);
            size_t count = r->buffer_length - skip < length ? r->buffer_length - skip : length;
            memcpy(buffer, r->buffer + skip, count);
            return (ssize_t)count;
        }
        if (r->whole) {
            if (!r->whole_cut) return 0; /* the whole file is held: offset is past its end */
            return range_reader_fail(r, FETCH_TOO_LARGE,
                                     "%s does not support range requests and only the first %zu bytes "
                                     "may be read",
                                     r->host, r->buffer_length);
        }
        if (r->eof || attempt == 1) break;
        size_t chunk = length > r->limits.read_ahead ? length : r->limits.read_ahead;
        if (chunk > RANGE_READER_MAX_CHUNK) chunk = RANGE_READER_MAX_CHUNK;
        if (offset > INT64_MAX - (int64_t)chunk) /* a seek the file's own numbers sent far past any end */
            return range_reader_fail(r, FETCH_TOO_LARGE, "reading it needs an offset past any file's end");
        int64_t end = offset + (int64_t)chunk - 1;
        if (r->size >= 0 && end > r->size - 1) end = r->size - 1;
        uint64_t budget_left = r->limits.max_read_bytes - r->bytes_read;
        if (budget_left == 0)
            return range_reader_fail(r, FETCH_TOO_LARGE, "reading it needs more than %zu bytes",
                                     r->limits.max_read_bytes);
        if ((uint64_t)(end - offset) >= budget_left) end = offset + (int64_t)budget_left - 1;
        if (range_reader_request(r, offset, end) != 0) return -1;
    }
    return 0; /* 416: offset is past the end (the size is now known) */
}

int64_t range_reader_size(const range_reader *r)
{
    return r->size;
}

bool range_reader_ranges_supported(const range_reader *r)
{
    return r->ranges && !r->whole;
}

uint64_t range_reader_bytes_read(const range_reader *r)
{
    return r->bytes_read;
}

unsigned range_reader_request_count(const range_reader *r)
{
    return r->requests;
}

fetch_result range_reader_error(const range_reader *r, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0) snprintf(err, err_size, "%s", r->failure_message);
    return r->failure;
}

void range_reader_close(range_reader *r)
{
    if (r == NULL) return;
    if (r->requests > 0)
        log_debug("range reader closed", "host=%s bytes=%llu requests=%u", r->host,
                  (unsigned long long)r->bytes_read, r->requests);
    if (r->easy) curl_easy_cleanup(r->easy);
    if (r->parsed) curl_url_cleanup(r->parsed);
    free(r->buffer);
    free(r);
}
