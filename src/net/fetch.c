/* fetch.c — downloads a user-given http(s) URL into a file with libcurl, under the guard of
 * net_guard.c: every socket libcurl is about to open (first hop and each redirect) is checked against
 * the address rules and the allow-list, and size, time and redirect limits cut hostile servers short. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/fetch.h"
#include "util/clock.h"
#include "util/log.h"

enum {
    FETCH_DEFAULT_MAX_BYTES = 512 * 1024 * 1024,
    FETCH_DEFAULT_CONNECT_TIMEOUT_MS = 10 * 1000,
    FETCH_DEFAULT_TOTAL_TIMEOUT_MS = 300 * 1000,
    FETCH_DEFAULT_MAX_REDIRECTS = 5,
    FETCH_MAX_URL_LENGTH = 16 * 1024, /* presigned storage URLs run to a few KiB; more is abuse */
    FETCH_HOST_SIZE = 256,
};

void fetch_policy_init(fetch_policy *policy)
{
    policy->max_bytes = FETCH_DEFAULT_MAX_BYTES;
    policy->connect_timeout_ms = FETCH_DEFAULT_CONNECT_TIMEOUT_MS;
    policy->total_timeout_ms = FETCH_DEFAULT_TOTAL_TIMEOUT_MS;
    policy->max_redirects = FETCH_DEFAULT_MAX_REDIRECTS;
    policy->allow_list = NULL;
}

const char *fetch_result_name(fetch_result result)
{
    switch (result) {
    case FETCH_OK:
        return "ok";
    case FETCH_INVALID_URL:
        return "invalid_url";
    case FETCH_BLOCKED:
        return "blocked";
    case FETCH_UNREACHABLE:
        return "unreachable";
    case FETCH_HTTP_STATUS:
        return "http_status";
    case FETCH_TOO_LARGE:
        return "too_large";
    case FETCH_TIMEOUT:
        return "timeout";
    }
    return "unknown";
}

/* curl_global_init is not thread-safe and engine workers call us concurrently. */
static pthread_once_t fetch_curl_once = PTHREAD_ONCE_INIT;
static CURLcode fetch_curl_init_result = CURLE_FAILED_INIT;

static void fetch_curl_init(void)
{
    fetch_curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

bool fetch_library_ready(void)
{
    return pthread_once(&fetch_curl_once, fetch_curl_init) == 0 && fetch_curl_init_result == CURLE_OK;
}

/* Host of url as the allow-list compares it: no brackets, no userinfo, no port. False if none. */
static bool fetch_url_host(CURLU *parsed, char *out, size_t out_size)
{
    char *host = NULL;
    if (curl_url_get(parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL) return false;
    size_t length = strlen(host);
    const char *start = host;
    if (length >= 2 && host[0] == '[' && host[length - 1] == ']') {
        start++;
        length -= 2;
    }
    bool fits = length > 0 && length < out_size;
    if (fits) {
        memcpy(out, start, length);
        out[length] = '\0';
    }
    curl_free(host);
    return fits;
}

static bool fetch_url_text_host(const char *url, char *out, size_t out_size)
{
    CURLU *parsed = curl_url();
    if (parsed == NULL) return false;
    bool found =
        curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK && fetch_url_host(parsed, out, out_size);
    curl_url_cleanup(parsed);
    return found;
}

typedef struct fetch_context {
    CURL *easy;
    const fetch_policy *policy;
    FILE *file;
    size_t received;
    bool too_large;    /* the body passed max_bytes */
    bool bad_status;   /* the write callback saw a final status outside 2xx */
    bool write_failed; /* the local file could not take the bytes */
    int write_errno;
    bool blocked; /* the guard refused a socket */
    char blocked_host[FETCH_HOST_SIZE];
} fetch_context;

/* libcurl's open-socket hook: the one place every resolved address passes before connect(), for
 * the first hop and for each redirect, so DNS answers cannot change between check and use. */
static curl_socket_t fetch_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    fetch_context *context = clientp;
    /* The host being connected to is the one of the current URL: after a redirect libcurl has already
     * replaced the effective URL with the target. If it cannot be read, fail closed: only address
     * entries of the allow-list can then match. */
    char host[FETCH_HOST_SIZE] = "";
    char *effective = NULL;
    if (curl_easy_getinfo(context->easy, CURLINFO_EFFECTIVE_URL, &effective) != CURLE_OK ||
        effective == NULL || !fetch_url_text_host(effective, host, sizeof(host)))
        host[0] = '\0';

    bool shape_ok = purpose == CURLSOCKTYPE_IPCXN &&
                    ((address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) ||
                     (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)));
    if (!shape_ok || (!net_address_is_public(&address->addr) &&
                      !net_allow_list_matches(context->policy->allow_list, host, &address->addr))) {
        context->blocked = true;
        snprintf(context->blocked_host, sizeof(context->blocked_host), "%s", host);
        return CURL_SOCKET_BAD;
    }
    int fd = socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static size_t fetch_write_body(char *data, size_t size, size_t count, void *userdata)
{
    fetch_context *context = userdata;
    size_t length = size * count; /* libcurl documents size as always 1 */
    long status = 0;
    if (curl_easy_getinfo(context->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (status < 200 || status > 299) {
        /* A redirect's own body is noise; any other non-2xx body is not wanted: stop reading it. */
        if (status >= 300 && status <= 399) return length;
        context->bad_status = true;
        return 0;
    }
    /* Chunked bodies carry no Content-Length, so the limit is enforced on what actually arrives. */
    if (length > context->policy->max_bytes - context->received) {
        context->too_large = true;
        return 0;
    }
    if (length > 0 && fwrite(data, 1, length, context->file) != length) {
        context->write_failed = true;
        context->write_errno = errno;
        return 0;
    }
    context->received += length;
    return length;
}

#define FETCH_SETOPT(easy, option, value)                                                                    \
    do {                                                                                                     \
        CURLcode setopt_result = curl_easy_setopt(easy, option, value);                                      \
        if (setopt_result != CURLE_OK) return setopt_result;                                                 \
    } while (0)

static CURLcode fetch_configure(CURL *easy, CURLU *parsed, fetch_context *context, char *error_buffer)
{
    const fetch_policy *policy = context->policy;
    FETCH_SETOPT(easy, CURLOPT_CURLU, parsed);
    FETCH_SETOPT(easy, CURLOPT_ERRORBUFFER, error_buffer);
    FETCH_SETOPT(easy, CURLOPT_NOSIGNAL, 1L);
    FETCH_SETOPT(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    FETCH_SETOPT(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    FETCH_SETOPT(easy, CURLOPT_FOLLOWLOCATION, 1L);
    FETCH_SETOPT(easy, CURLOPT_MAXREDIRS, (long)(policy->max_redirects < 0 ? 0 : policy->max_redirects));
    /* A proxy from the environment would make the guard see the proxy's address, not the target's. */
    FETCH_SETOPT(easy, CURLOPT_PROXY, "");
    FETCH_SETOPT(easy, CURLOPT_NOPROXY, "*");
    FETCH_SETOPT(easy, CURLOPT_OPENSOCKETFUNCTION, fetch_open_socket);
    FETCH_SETOPT(easy, CURLOPT_OPENSOCKETDATA, context);
    FETCH_SETOPT(easy, CURLOPT_WRITEFUNCTION, fetch_write_body);
    FETCH_SETOPT(easy, CURLOPT_WRITEDATA, context);
    if (policy->connect_timeout_ms > 0)
        FETCH_SETOPT(easy, CURLOPT_CONNECTTIMEOUT_MS, policy->connect_timeout_ms);
    if (policy->total_timeout_ms > 0) FETCH_SETOPT(easy, CURLOPT_TIMEOUT_MS, policy->total_timeout_ms);
    /* 0 would mean "no limit" to libcurl; the write callback still enforces a zero limit. */
    if (policy->max_bytes > 0) {
        curl_off_t limit =
            policy->max_bytes > (size_t)INT64_MAX ? (curl_off_t)INT64_MAX : (curl_off_t)policy->max_bytes;
        FETCH_SETOPT(easy, CURLOPT_MAXFILESIZE_LARGE, limit);
    }
    FETCH_SETOPT(easy, CURLOPT_USERAGENT, "reelay");
    return CURLE_OK;
}

/* Turns a failed transfer into a result and a message a user can act on. host names the server
 * involved without userinfo (the URL itself is never quoted: it may carry credentials). */
static fetch_result fetch_classify_failure(CURLcode code, const fetch_context *context, const char *host,
                                           const char *error_buffer, char *err, size_t err_size)
{
    const fetch_policy *policy = context->policy;
    if (context->blocked && code == CURLE_COULDNT_CONNECT) {
        snprintf(err, err_size, "the address of %s is not public",
                 context->blocked_host[0] != '\0' ? context->blocked_host : host);
        return FETCH_BLOCKED;
    }
    if (context->too_large || code == CURLE_FILESIZE_EXCEEDED) {
        snprintf(err, err_size, "more than %zu bytes", policy->max_bytes);
        return FETCH_TOO_LARGE;
    }
    if (context->bad_status) {
        long status = 0;
        if (curl_easy_getinfo(context->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
        snprintf(err, err_size, "the server answered %ld", status);
        return FETCH_HTTP_STATUS;
    }
    if (context->write_failed) {
        /* No result names local trouble; the input could not be brought in, which is the closest. */
        snprintf(err, err_size, "could not save the download: %s", strerror(context->write_errno));
        return FETCH_UNREACHABLE;
    }
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected_us = 0;
        if (curl_easy_getinfo(context->easy, CURLINFO_CONNECT_TIME_T, &connected_us) != CURLE_OK)
            connected_us = 0;
        if (connected_us == 0)
            snprintf(err, err_size, "could not connect to %s within %ld ms", host,
                     policy->connect_timeout_ms);
        else
            snprintf(err, err_size, "%s did not send the whole file within %ld ms", host,
                     policy->total_timeout_ms);
        return FETCH_TIMEOUT;
    }
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(err, err_size, "%s redirected to a URL that is not http or https", host);
        return FETCH_BLOCKED;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(err, err_size, "more than %d redirects", policy->max_redirects);
        return FETCH_HTTP_STATUS;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, err_size, "could not resolve %s", host);
        return FETCH_UNREACHABLE;
    case CURLE_COULDNT_CONNECT: {
        long os_errno = 0;
        if (curl_easy_getinfo(context->easy, CURLINFO_OS_ERRNO, &os_errno) != CURLE_OK) os_errno = 0;
        snprintf(err, err_size, "could not connect to %s: %s", host,
                 os_errno != 0 ? strerror((int)os_errno) : curl_easy_strerror(code));
        return FETCH_UNREACHABLE;
    }
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        /* libcurl's TLS messages name the certificate problem, never the URL. */
        snprintf(err, err_size, "TLS with %s failed: %s", host,
                 error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code));
        return FETCH_UNREACHABLE;
    default:
        snprintf(err, err_size, "could not fetch from %s: %s", host, curl_easy_strerror(code));
        return FETCH_UNREACHABLE;
    }
}

/* Checks that url is an absolute http(s) URL with a host; on success *out owns the parsed form. */
static fetch_result fetch_parse_url(const char *url, CURLU **out, char *host, size_t host_size, char *err,
                                    size_t err_size)
{
    *out = NULL;
    if (url == NULL || *url == '\0' || strnlen(url, FETCH_MAX_URL_LENGTH + 1) > FETCH_MAX_URL_LENGTH) {
        snprintf(err, err_size, "%s", url == NULL || *url == '\0' ? "no URL given" : "the URL is too long");
        return FETCH_INVALID_URL;
    }
    CURLU *parsed = curl_url();
    if (parsed == NULL) {
        snprintf(err, err_size, "out of memory");
        return FETCH_UNREACHABLE;
    }
    char *scheme = NULL;
    fetch_result result = FETCH_OK;
    if (curl_url_set(parsed, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL) {
        snprintf(err, err_size, "not an absolute http or https URL");
        result = FETCH_INVALID_URL;
    } else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        snprintf(err, err_size, "only http and https URLs can be fetched");
        result = FETCH_INVALID_URL;
    } else if (!fetch_url_host(parsed, host, host_size)) {
        snprintf(err, err_size, "the URL has no usable host");
        result = FETCH_INVALID_URL;
    }
    curl_free(scheme);
    if (result != FETCH_OK) {
        curl_url_cleanup(parsed);
        return result;
    }
    *out = parsed;
    return FETCH_OK;
}

static void fetch_copy_content_type(CURL *easy, char *out, size_t out_size)
{
    char *content_type = NULL;
    out[0] = '\0';
    if (curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &content_type) != CURLE_OK || content_type == NULL)
        return;
    size_t i = 0;
    /* Server bytes: keep printable ASCII only, so the value is safe to log or echo back. */
    for (; content_type[i] != '\0' && i + 1 < out_size; i++) {
        unsigned char c = (unsigned char)content_type[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = '\0';
}

/* Removing the partial download is best effort: a file already gone is what we wanted anyway. */
static void fetch_remove_file(const char *path)
{
    if (unlink(path) != 0 && errno != ENOENT) log_warn("could not remove failed download", "errno=%d", errno);
}

/* A guarded download in progress (see fetch_transfer_begin in fetch.h). */
struct fetch_transfer {
    CURL *easy;
    CURLU *parsed;
    struct curl_slist *headers;
    FILE *file;
    char path[PATH_MAX];
    char host[FETCH_HOST_SIZE];
    char error_buffer[CURL_ERROR_SIZE];
    fetch_context context;
};

static void fetch_transfer_free(fetch_transfer *t)
{
    if (t->easy) curl_easy_cleanup(t->easy);
    if (t->parsed) curl_url_cleanup(t->parsed);
    curl_slist_free_all(t->headers);
    free(t);
}

fetch_transfer *fetch_transfer_begin(const char *url, const char *const *headers, const char *path,
                                     const fetch_policy *policy, fetch_result *result, char *err, size_t err_size)
{
    err[0] = '\0';
    *result = FETCH_UNREACHABLE;
    if (path == NULL || *path == '\0' || strlen(path) >= PATH_MAX) {
        snprintf(err, err_size, "no file to save into");
        return NULL;
    }
    if (!fetch_library_ready()) {
        snprintf(err, err_size, "the HTTP client could not start");
        fetch_remove_file(path);
        return NULL;
    }
    fetch_transfer *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    snprintf(t->path, sizeof(t->path), "%s", path);
    *result = fetch_parse_url(url, &t->parsed, t->host, sizeof(t->host), err, err_size);
    if (*result != FETCH_OK) {
        fetch_remove_file(path); /* the contract: no file at path after a failure */
        fetch_transfer_free(t);
        return NULL;
    }
    *result = FETCH_UNREACHABLE;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    t->file = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (t->file == NULL) {
        snprintf(err, err_size, "could not create the download file: %s", strerror(errno));
        if (fd >= 0 && close(fd) != 0) log_warn("could not close download file", "errno=%d", errno);
        fetch_remove_file(path);
        fetch_transfer_free(t);
        return NULL;
    }
    t->easy = curl_easy_init();
    t->context = (fetch_context){.easy = t->easy, .policy = policy, .file = t->file};
    CURLcode code = t->easy ? fetch_configure(t->easy, t->parsed, &t->context, t->error_buffer) : CURLE_FAILED_INIT;
    for (size_t i = 0; code == CURLE_OK && headers && headers[i]; i++) {
        struct curl_slist *grown = curl_slist_append(t->headers, headers[i]);
        if (grown == NULL) code = CURLE_OUT_OF_MEMORY;
        else t->headers = grown;
    }
    /* libcurl drops a custom Authorization header when a redirect leaves the host */
    if (code == CURLE_OK && t->headers) code = curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    if (code != CURLE_OK) {
        snprintf(err, err_size, "the HTTP client could not be set up: %s", curl_easy_strerror(code));
        fclose(t->file);
        fetch_remove_file(path);
        fetch_transfer_free(t);
        return NULL;
    }
    *result = FETCH_OK;
    return t;
}

CURL *fetch_transfer_easy(fetch_transfer *t)
{
    return t->easy;
}

fetch_result fetch_transfer_end(fetch_transfer *t, CURLcode code, fetch_response *out, char *err, size_t err_size)
{
    char scratch_err[8];
    if (err == NULL || err_size == 0) err = scratch_err, err_size = sizeof(scratch_err);
    err[0] = '\0';
    fetch_response scratch_response;
    fetch_response *response = out != NULL ? out : &scratch_response;
    memset(response, 0, sizeof(*response));

    /* Name the host of the last URL tried, so a failure after a redirect points at the right server. */
    char current_host[FETCH_HOST_SIZE];
    char *effective = NULL;
    if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &effective) != CURLE_OK || effective == NULL ||
        !fetch_url_text_host(effective, current_host, sizeof(current_host)))
        snprintf(current_host, sizeof(current_host), "%s", t->host);
    long status = 0;
    if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    response->http_status = status;
    fetch_copy_content_type(t->easy, response->content_type, sizeof(response->content_type));
    response->size = t->context.received;

    fetch_result result = FETCH_OK;
    if (code != CURLE_OK) {
        result = fetch_classify_failure(code, &t->context, current_host, t->error_buffer, err, err_size);
    } else if (status < 200 || status > 299) {
        snprintf(err, err_size, "the server answered %ld", status);
        result = FETCH_HTTP_STATUS;
    }
    /* Buffered bytes reach the disk only here, so a full disk may first show up at close. */
    if (fclose(t->file) != 0 && result == FETCH_OK) {
        snprintf(err, err_size, "could not save the download: %s", strerror(errno));
        result = FETCH_UNREACHABLE;
    }
    if (result != FETCH_OK) {
        fetch_remove_file(t->path);
        response->size = 0;
        log_info("fetch failed", "host=%s result=%s status=%ld", t->host, fetch_result_name(result),
                 response->http_status);
    } else {
        log_debug("fetch done", "host=%s bytes=%zu", t->host, response->size);
    }
    fetch_transfer_free(t);
    return result;
}

fetch_result fetch_url_to_file(const char *url, const char *path, const fetch_policy *policy,
                               fetch_response *out, char *err, size_t err_size)
{
    return fetch_url_to_file_with_headers(url, NULL, path, policy, out, err, err_size);
}

fetch_result fetch_url_to_file_with_headers(const char *url, const char *const *headers, const char *path,
                                            const fetch_policy *policy, fetch_response *out, char *err,
                                            size_t err_size)
{
    char scratch_err[8];
    if (err == NULL || err_size == 0) err = scratch_err, err_size = sizeof(scratch_err);
    if (out != NULL) memset(out, 0, sizeof(*out));
    fetch_policy defaults;
    if (policy == NULL) {
        fetch_policy_init(&defaults);
        policy = &defaults;
    }
    fetch_result result;
    fetch_transfer *t = fetch_transfer_begin(url, headers, path, policy, &result, err, err_size);
    if (t == NULL) return result;
    return fetch_transfer_end(t, curl_easy_perform(fetch_transfer_easy(t)), out, err, err_size);
}

/* ---- the range reader (see fetch.h) ---- */

enum {
    FETCH_READER_DEFAULT_MAX_READ = 64 * 1024 * 1024,
    FETCH_READER_DEFAULT_TIMEOUT_MS = 30 * 1000,
    FETCH_READER_DEFAULT_READ_AHEAD = 64 * 1024,
    FETCH_READER_DEFAULT_WHOLE_CAP = 16 * 1024 * 1024,
    FETCH_READER_MAX_CHUNK = 8 * 1024 * 1024, /* one range request asks for at most this much */
};

void fetch_reader_limits_init(fetch_reader_limits *limits)
{
    limits->max_read_bytes = FETCH_READER_DEFAULT_MAX_READ;
    limits->total_timeout_ms = FETCH_READER_DEFAULT_TIMEOUT_MS;
    limits->read_ahead = FETCH_READER_DEFAULT_READ_AHEAD;
    limits->whole_body_cap = FETCH_READER_DEFAULT_WHOLE_CAP;
}

struct fetch_reader {
    CURL *easy;
    CURLU *parsed;
    fetch_policy policy;
    fetch_reader_limits limits;
    fetch_context guard; /* the open-socket hook's state, as for a download */
    char host[FETCH_HOST_SIZE];
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

static void fetch_reader_stop(fetch_reader *r, fetch_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fetch_reader_stop(fetch_reader *r, fetch_result result, const char *fmt, ...)
{
    if (r->request_failure != FETCH_OK) return; /* the first reason is the real one */
    r->request_failure = result;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->request_message, sizeof(r->request_message), fmt, ap);
    va_end(ap);
}

static ssize_t fetch_reader_fail(fetch_reader *r, fetch_result result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static ssize_t fetch_reader_fail(fetch_reader *r, fetch_result result, const char *fmt, ...)
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
static bool fetch_parse_offset(const char **cursor, int64_t *out)
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
static bool fetch_parse_content_range(const char *text, int64_t *start, int64_t *end, int64_t *total)
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
        if (!fetch_parse_offset(&p, start) || *p++ != '-' || !fetch_parse_offset(&p, end) || *end < *start)
            return false;
    }
    if (*p++ != '/') return false;
    if (*p == '*') {
        *total = -1;
        p++;
    } else if (!fetch_parse_offset(&p, total)) {
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
static const char *fetch_reader_content_range(fetch_reader *r)
{
    struct curl_header *header = NULL;
    if (curl_easy_header(r->easy, "Content-Range", 0, CURLH_HEADER, -1, &header) != CURLHE_OK ||
        header == NULL || header->amount != 1 || header->value == NULL)
        return NULL;
    return header->value;
}

static bool fetch_reader_size_agrees(fetch_reader *r, int64_t total)
{
    if (r->size >= 0 && total != r->size) {
        fetch_reader_stop(r, FETCH_UNREACHABLE, "%s changed the file's size while it was read", r->host);
        return false;
    }
    if ((uint64_t)total > (uint64_t)r->policy.max_bytes) {
        fetch_reader_stop(r, FETCH_TOO_LARGE, "more than %zu bytes", r->policy.max_bytes);
        return false;
    }
    r->size = total;
    return true;
}

/* Examines the final response's status and headers once, before its body is taken: 206 with exactly
 * the range asked for, 200 (Range ignored), or 416 at the end of the file. False (with the reason
 * recorded) for anything else. */
static bool fetch_reader_check_response(fetch_reader *r)
{
    r->checked = true;
    long status = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    int64_t start = 0, end = 0, total = 0;
    if (status == 206) {
        char *type = NULL;
        if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != NULL &&
            strncasecmp(type, "multipart/", 10) == 0) {
            fetch_reader_stop(r, FETCH_UNREACHABLE, "%s answered with several ranges", r->host);
            return false;
        }
        const char *range = fetch_reader_content_range(r);
        if (range == NULL || !fetch_parse_content_range(range, &start, &end, &total) ||
            start != r->want_start || end > r->want_end) {
            fetch_reader_stop(r, FETCH_UNREACHABLE, "%s answered with an invalid Content-Range", r->host);
            return false;
        }
        if (total >= 0 && !fetch_reader_size_agrees(r, total)) return false;
        r->ranges = true;
        r->expect_length = end - start + 1;
        return true;
    }
    if (status == 200) {
        curl_off_t length = -1;
        if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK) length = -1;
        if (length >= 0 && !fetch_reader_size_agrees(r, (int64_t)length)) return false;
        r->ranges = false;
        r->whole = true;
        r->whole_cut = false;
        r->buffer_offset = 0;
        r->buffer_length = 0;
        return true;
    }
    if (status == 416) {
        const char *range = fetch_reader_content_range(r);
        if (range != NULL && fetch_parse_content_range(range, &start, &end, &total) && start < 0 &&
            r->want_start >= total) {
            if (!fetch_reader_size_agrees(r, total)) return false;
            r->eof = true;
            return true;
        }
    }
    fetch_reader_stop(r, FETCH_HTTP_STATUS, "the server answered %ld", status);
    return false;
}

/* Bodies land here: a 206 into the block buffer (never more than announced), a 200 from offset 0 up
 * to the cap. Every byte counts against the read budget, redirect and error-page bodies included. */
static size_t fetch_reader_write(char *data, size_t size, size_t count, void *userdata)
{
    fetch_reader *r = userdata;
    size_t length = size * count; /* libcurl documents size as always 1 */
    uint64_t budget_left = r->limits.max_read_bytes - r->bytes_read;
    long status = 0;
    if (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (status >= 300 && status <= 399) {
        if (length > budget_left) goto over_budget;
        r->bytes_read += length;
        return length;
    }
    if (!r->checked && !fetch_reader_check_response(r)) return 0;
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
                fetch_reader_stop(r, FETCH_UNREACHABLE, "out of memory");
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
        fetch_reader_stop(r, FETCH_UNREACHABLE, "%s sent more than the range it announced", r->host);
        return 0;
    }
    if (length > budget_left) goto over_budget;
    memcpy(r->buffer + r->buffer_length, data, length); /* capacity ≥ the range asked ≥ expect_length */
    r->buffer_length += length;
    r->bytes_read += length;
    return length;

over_budget:
    fetch_reader_stop(r, FETCH_TOO_LARGE, "reading it needs more than %zu bytes", r->limits.max_read_bytes);
    return 0;
}

/* Later ranges go straight to where the redirects led (the guard still checks every connection). */
static void fetch_reader_follow_redirect(fetch_reader *r)
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

/* One GET of bytes start..end (inclusive). 0 on success — the buffer then holds a block starting at
 * start (206), the body from 0 (200), or eof is set (416) — else -1 with the reader failed. */
static int fetch_reader_request(fetch_reader *r, int64_t start, int64_t end)
{
    int64_t remaining_ms = r->deadline_ms - clock_monotonic_ms();
    if (remaining_ms <= 0) {
        fetch_reader_fail(r, FETCH_TIMEOUT, "%s was too slow: reading took more than %ld ms", r->host,
                          r->timeout_ms);
        return -1;
    }
    size_t wanted = (size_t)(end - start + 1);
    if (wanted > r->buffer_capacity) {
        unsigned char *grown = realloc(r->buffer, wanted);
        if (grown == NULL) {
            fetch_reader_fail(r, FETCH_UNREACHABLE, "out of memory");
            return -1;
        }
        r->buffer = grown;
        r->buffer_capacity = wanted;
    }
    char range[64];
    snprintf(range, sizeof(range), "%lld-%lld", (long long)start, (long long)end);
    if (curl_easy_setopt(r->easy, CURLOPT_RANGE, range) != CURLE_OK ||
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)remaining_ms) != CURLE_OK) {
        fetch_reader_fail(r, FETCH_UNREACHABLE, "the HTTP client could not be set up");
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
        fetch_reader_fail(r, r->request_failure, "%s", r->request_message);
        r->buffer_length = 0;
        return -1;
    }
    if (code != CURLE_OK && !(r->whole && r->whole_cut && code == CURLE_WRITE_ERROR)) {
        r->buffer_length = 0;
        r->whole = false;
        if (code == CURLE_OPERATION_TIMEDOUT) {
            curl_off_t connected_us = 0;
            if (curl_easy_getinfo(r->easy, CURLINFO_CONNECT_TIME_T, &connected_us) != CURLE_OK)
                connected_us = 0;
            if (connected_us == 0)
                fetch_reader_fail(r, FETCH_TIMEOUT, "could not connect to %s in time", r->host);
            else
                fetch_reader_fail(r, FETCH_TIMEOUT, "%s was too slow: reading took more than %ld ms", r->host,
                                  r->timeout_ms);
            return -1;
        }
        if (code == CURLE_PARTIAL_FILE) {
            fetch_reader_fail(r, FETCH_UNREACHABLE, "%s cut the answer short", r->host);
            return -1;
        }
        char message[256];
        fetch_result result =
            fetch_classify_failure(code, &r->guard, r->host, r->error_buffer, message, sizeof(message));
        fetch_reader_fail(r, result, "%s", message);
        return -1;
    }
    if (!r->checked && !fetch_reader_check_response(r)) { /* no body at all */
        fetch_reader_fail(r, r->request_failure, "%s", r->request_message);
        return -1;
    }
    if (r->whole && !r->whole_cut) {
        /* The whole file is in memory (libcurl checked it against any Content-Length). */
        r->size = (int64_t)r->buffer_length;
    } else if (!r->whole && !r->eof && (int64_t)r->buffer_length != r->expect_length) {
        r->buffer_length = 0;
        fetch_reader_fail(r, FETCH_UNREACHABLE, "%s cut the answer short", r->host);
        return -1;
    }
    fetch_reader_follow_redirect(r);
    return 0;
}

fetch_reader *fetch_reader_open(const char *url, const fetch_policy *policy,
                                const fetch_reader_limits *limits, fetch_result *result, char *err,
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
    fetch_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (policy != NULL)
        r->policy = *policy;
    else
        fetch_policy_init(&r->policy);
    fetch_reader_limits defaults;
    fetch_reader_limits_init(&defaults);
    r->limits = limits != NULL ? *limits : defaults;
    if (r->limits.max_read_bytes == 0) r->limits.max_read_bytes = defaults.max_read_bytes;
    if (r->limits.total_timeout_ms <= 0) r->limits.total_timeout_ms = defaults.total_timeout_ms;
    if (r->limits.read_ahead == 0) r->limits.read_ahead = defaults.read_ahead;
    if (r->limits.read_ahead > FETCH_READER_MAX_CHUNK) r->limits.read_ahead = FETCH_READER_MAX_CHUNK;
    if (r->limits.whole_body_cap == 0) r->limits.whole_body_cap = defaults.whole_body_cap;
    if (r->limits.whole_body_cap > r->limits.max_read_bytes)
        r->limits.whole_body_cap = r->limits.max_read_bytes;
    r->timeout_ms = r->limits.total_timeout_ms;
    if (r->policy.total_timeout_ms > 0 && r->policy.total_timeout_ms < r->timeout_ms)
        r->timeout_ms = r->policy.total_timeout_ms;
    r->deadline_ms = clock_monotonic_ms() + r->timeout_ms;
    r->size = -1;

    *result = fetch_parse_url(url, &r->parsed, r->host, sizeof(r->host), err, err_size);
    if (*result != FETCH_OK) {
        fetch_reader_close(r);
        return NULL;
    }
    r->easy = curl_easy_init();
    r->guard = (fetch_context){.easy = r->easy, .policy = &r->policy};
    CURLcode code =
        r->easy ? fetch_configure(r->easy, r->parsed, &r->guard, r->error_buffer) : CURLE_FAILED_INIT;
    if (code == CURLE_OK) code = curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, fetch_reader_write);
    if (code == CURLE_OK) code = curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    if (code != CURLE_OK) {
        *result = FETCH_UNREACHABLE;
        snprintf(err, err_size, "the HTTP client could not be set up: %s", curl_easy_strerror(code));
        fetch_reader_close(r);
        return NULL;
    }
    int64_t first_end = (int64_t)r->limits.read_ahead - 1;
    if ((uint64_t)first_end >= r->limits.max_read_bytes) first_end = (int64_t)r->limits.max_read_bytes - 1;
    if (fetch_reader_request(r, 0, first_end) != 0) {
        *result = fetch_reader_error(r, err, err_size);
        fetch_reader_close(r);
        return NULL;
    }
    *result = FETCH_OK;
    return r;
}

ssize_t fetch_reader_read(fetch_reader *r, int64_t offset, void *buffer, size_t length)
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
            return fetch_reader_fail(r, FETCH_TOO_LARGE,
                                     "%s does not support range requests and only the first %zu bytes "
                                     "may be read",
                                     r->host, r->buffer_length);
        }
        if (r->eof || attempt == 1) break;
        size_t chunk = length > r->limits.read_ahead ? length : r->limits.read_ahead;
        if (chunk > FETCH_READER_MAX_CHUNK) chunk = FETCH_READER_MAX_CHUNK;
        if (offset > INT64_MAX - (int64_t)chunk) /* a seek the file's own numbers sent far past any end */
            return fetch_reader_fail(r, FETCH_TOO_LARGE, "reading it needs an offset past any file's end");
        int64_t end = offset + (int64_t)chunk - 1;
        if (r->size >= 0 && end > r->size - 1) end = r->size - 1;
        uint64_t budget_left = r->limits.max_read_bytes - r->bytes_read;
        if (budget_left == 0)
            return fetch_reader_fail(r, FETCH_TOO_LARGE, "reading it needs more than %zu bytes",
                                     r->limits.max_read_bytes);
        if ((uint64_t)(end - offset) >= budget_left) end = offset + (int64_t)budget_left - 1;
        if (fetch_reader_request(r, offset, end) != 0) return -1;
    }
    return 0; /* 416: offset is past the end (the size is now known) */
}

int64_t fetch_reader_size(const fetch_reader *r)
{
    return r->size;
}

bool fetch_reader_ranges_supported(const fetch_reader *r)
{
    return r->ranges && !r->whole;
}

uint64_t fetch_reader_bytes_read(const fetch_reader *r)
{
    return r->bytes_read;
}

unsigned fetch_reader_request_count(const fetch_reader *r)
{
    return r->requests;
}

fetch_result fetch_reader_error(const fetch_reader *r, char *err, size_t err_size)
{
    if (err != NULL && err_size > 0) snprintf(err, err_size, "%s", r->failure_message);
    return r->failure;
}

void fetch_reader_close(fetch_reader *r)
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
