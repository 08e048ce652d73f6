/* fetch.c — downloads a user-given http(s) URL into a file with libcurl, under the guard set up by
 * curl_setup.c: every socket libcurl is about to open (first hop and each redirect) is checked against
 * the address rules and the allow-list of net_guard.c, and size, time and redirect limits cut hostile
 * servers short. Also the fetch policy's defaults and libcurl's one-time start. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/fetch.h"
#include "net/curl_setup.h"
#include "util/log.h"

enum {
    FETCH_DEFAULT_MAX_BYTES = 512 * 1024 * 1024,
    FETCH_DEFAULT_CONNECT_TIMEOUT_MS = 10 * 1000,
    FETCH_DEFAULT_TOTAL_TIMEOUT_MS = 300 * 1000,
    FETCH_DEFAULT_MAX_REDIRECTS = 5,
    FETCH_MAX_URL_LENGTH = 16 * 1024, /* presigned storage URLs run to a few KiB; more is abuse */
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

typedef struct fetch_context {
    net_guard guard; /* the open-socket hook's state (its easy is the transfer's) */
    const fetch_policy *policy;
    FILE *file;
    size_t received;
    bool too_large;    /* the body passed max_bytes */
    bool bad_status;   /* the write callback saw a final status outside 2xx */
    bool write_failed; /* the local file could not take the bytes */
    int write_errno;
} fetch_context;

static size_t fetch_write_body(char *data, size_t size, size_t count, void *userdata)
{
    fetch_context *context = userdata;
    size_t length = size * count; /* libcurl documents size as always 1 */
    long status = 0;
    if (curl_easy_getinfo(context->guard.easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
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

/* Turns a failed transfer into a result and a message a user can act on. host names the server
 * involved without userinfo (the URL itself is never quoted: it may carry credentials). */
static fetch_result fetch_classify_failure(CURLcode code, const fetch_context *context, const char *host,
                                           const char *error_buffer, char *err, size_t err_size)
{
    const fetch_policy *policy = context->policy;
    bool blocked = context->guard.blocked && code == CURLE_COULDNT_CONNECT;
    if (!blocked && context->too_large) {
        snprintf(err, err_size, "more than %zu bytes", policy->max_bytes);
        return FETCH_TOO_LARGE;
    }
    if (!blocked && context->bad_status) {
        long status = 0;
        if (curl_easy_getinfo(context->guard.easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
        snprintf(err, err_size, "the server answered %ld", status);
        return FETCH_HTTP_STATUS;
    }
    if (!blocked && context->write_failed) {
        /* No result names local trouble; the input could not be brought in, which is the closest. */
        snprintf(err, err_size, "could not save the download: %s", strerror(context->write_errno));
        return FETCH_UNREACHABLE;
    }
    return net_curl_describe_failure(code, context->guard.easy, &context->guard, policy, host, error_buffer,
                                     err, err_size);
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
    char host[NET_HOST_SIZE];
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

/* The guarded GET of a download on t->easy, with the caller's extra headers. */
static CURLcode fetch_transfer_configure(fetch_transfer *t, const char *const *headers,
                                         const fetch_policy *policy)
{
    t->context = (fetch_context){.policy = policy, .file = t->file};
    net_guard_init(&t->context.guard, t->easy, policy->allow_list, NULL);
    CURLcode code = CURLE_OK;
    for (size_t i = 0; code == CURLE_OK && headers && headers[i]; i++)
        code = net_curl_header_append(&t->headers, headers[i]);
    if (code != CURLE_OK) return code;
    net_curl_options options = net_curl_fetch_options(policy, &t->context.guard);
    options.parsed_url = t->parsed;
    options.error_buffer = t->error_buffer;
    /* libcurl drops a custom Authorization header when a redirect leaves the host */
    options.headers = t->headers;
    options.write_body = fetch_write_body;
    options.write_body_data = &t->context;
    return net_curl_setup(t->easy, &options);
}

fetch_transfer *fetch_transfer_begin(const char *url, const char *const *headers, const char *path,
                                     const fetch_policy *policy, fetch_result *result, char *err,
                                     size_t err_size)
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
    *result = net_url_parse(url, FETCH_MAX_URL_LENGTH, "fetched", &t->parsed, t->host, sizeof(t->host), err,
                            err_size);
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
    CURLcode code = t->easy ? fetch_transfer_configure(t, headers, policy) : CURLE_FAILED_INIT;
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

fetch_result fetch_transfer_end(fetch_transfer *t, CURLcode code, fetch_response *out, char *err,
                                size_t err_size)
{
    char scratch_err[8];
    if (err == NULL || err_size == 0) err = scratch_err, err_size = sizeof(scratch_err);
    err[0] = '\0';
    fetch_response scratch_response;
    fetch_response *response = out != NULL ? out : &scratch_response;
    memset(response, 0, sizeof(*response));

    /* Name the host of the last URL tried, so a failure after a redirect points at the right server. */
    char current_host[NET_HOST_SIZE];
    char *effective = NULL;
    if (curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &effective) != CURLE_OK || effective == NULL ||
        !net_url_text_host(effective, current_host, sizeof(current_host)))
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
