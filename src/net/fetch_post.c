/* fetch_post.c — guarded POSTs of small bodies (see fetch_post.h). The connect-time address check is
 * the rule of net_guard.c applied in libcurl's open-socket hook, set up by curl_setup.c as for
 * downloads. */
#include "net/fetch_post.h"

#include "net/curl_setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    POST_DEFAULT_TIMEOUT_MS = 10 * 1000,
    POST_DEFAULT_RESPONSE_BYTES = 64 * 1024,
    POST_MAX_URL_LENGTH = 4096,
};

struct fetch_post {
    CURL *easy;
    CURLU *parsed;
    struct curl_slist *headers;
    const fetch_policy *policy;
    char host[NET_HOST_SIZE];
    net_guard guard; /* the open-socket hook's state: every connection is for host */
    char error_buffer[CURL_ERROR_SIZE];
    size_t max_response_bytes, received;
    bool cut_off; /* the response passed max_response_bytes */
};

/* The answer's body is not wanted: count it and drop it, up to the cap. */
static size_t post_discard_body(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    fetch_post *post = userdata;
    size_t length = size * count;
    if (length > post->max_response_bytes - post->received) {
        post->cut_off = true;
        return 0;
    }
    post->received += length;
    return length;
}

static void post_free(fetch_post *post)
{
    if (post->easy) curl_easy_cleanup(post->easy);
    if (post->parsed) curl_url_cleanup(post->parsed);
    curl_slist_free_all(post->headers);
    free(post);
}

/* Checks the URL: absolute http(s) with a host; http only to allow-listed hosts under https_only. */
static fetch_result post_parse_url(fetch_post *post, const char *url, bool https_only, char *err,
                                   size_t err_size)
{
    fetch_result result = net_url_parse(url, POST_MAX_URL_LENGTH, "used", &post->parsed, post->host,
                                        sizeof(post->host), err, err_size);
    if (result != FETCH_OK) return result;
    char *scheme = NULL;
    if (curl_url_get(post->parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL) {
        snprintf(err, err_size, "out of memory");
        return FETCH_UNREACHABLE;
    }
    if (https_only && strcasecmp(scheme, "https") != 0 &&
        !net_allow_list_matches(post->policy->allow_list, post->host, NULL)) {
        snprintf(err, err_size, "only https may be used with %s", post->host);
        result = FETCH_INVALID_URL;
    }
    curl_free(scheme);
    return result;
}

/* Builds the header list (the caller's, and no "Expect: 100-continue") and sets the transfer up. */
static CURLcode post_configure(fetch_post *post, const char *const *headers, const char *body,
                               size_t body_size, const fetch_post_options *options)
{
    bool has_user_agent = false;
    CURLcode code = CURLE_OK;
    for (size_t i = 0; code == CURLE_OK && headers && headers[i]; i++) {
        if (strncasecmp(headers[i], "User-Agent:", 11) == 0) has_user_agent = true;
        code = net_curl_header_append(&post->headers, headers[i]);
    }
    /* A body over 1 KiB would make libcurl wait for "100 Continue" first: a needless round trip. */
    if (code == CURLE_OK) code = net_curl_header_append(&post->headers, "Expect:");
    if (code != CURLE_OK) return code;
    long timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : POST_DEFAULT_TIMEOUT_MS;
    long connect_ms = post->policy->connect_timeout_ms > 0 && post->policy->connect_timeout_ms < timeout_ms
                          ? post->policy->connect_timeout_ms
                          : timeout_ms;
    post->easy = curl_easy_init();
    if (post->easy == NULL) return CURLE_FAILED_INIT;
    net_guard_init(&post->guard, post->easy, post->policy->allow_list, post->host);
    net_curl_options setup = {.parsed_url = post->parsed,
                              .error_buffer = post->error_buffer,
                              .guard = &post->guard,
                              .follow_redirects = false,
                              .connect_timeout_ms = connect_ms,
                              .total_timeout_ms = timeout_ms,
                              .headers = post->headers,
                              .body = body ? body : "",
                              .body_size = body_size,
                              .copy_body = true,
                              .write_body = post_discard_body,
                              .write_body_data = post,
                              .user_agent = has_user_agent ? NULL : "reelay"};
    return net_curl_setup(post->easy, &setup);
}

fetch_post *fetch_post_begin(const char *url, const char *const *headers, const char *body, size_t body_size,
                             const fetch_post_options *options, fetch_result *result, char *err,
                             size_t err_size)
{
    err[0] = '\0';
    *result = FETCH_UNREACHABLE;
    if (options == NULL || options->policy == NULL || (body == NULL && body_size > 0)) {
        snprintf(err, err_size, "the request is incomplete");
        return NULL;
    }
    if (!fetch_library_ready()) {
        snprintf(err, err_size, "the HTTP client could not start");
        return NULL;
    }
    fetch_post *post = calloc(1, sizeof(*post));
    if (post == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    post->policy = options->policy;
    post->max_response_bytes =
        options->max_response_bytes > 0 ? options->max_response_bytes : POST_DEFAULT_RESPONSE_BYTES;
    *result = post_parse_url(post, url, options->https_only, err, err_size);
    if (*result != FETCH_OK) {
        post_free(post);
        return NULL;
    }
    *result = FETCH_UNREACHABLE;
    CURLcode code = post_configure(post, headers, body, body_size, options);
    if (code != CURLE_OK) {
        snprintf(err, err_size, "the HTTP client could not be set up: %s", curl_easy_strerror(code));
        post_free(post);
        return NULL;
    }
    *result = FETCH_OK;
    return post;
}

CURL *fetch_post_easy(fetch_post *post)
{
    return post->easy;
}

fetch_result fetch_post_end(fetch_post *post, CURLcode code, long *http_status, char *err, size_t err_size)
{
    char scratch[8];
    if (err == NULL || err_size == 0) err = scratch, err_size = sizeof(scratch);
    err[0] = '\0';
    long status = 0;
    if (curl_easy_getinfo(post->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) status = 0;
    if (http_status) *http_status = status;
    fetch_result result;
    /* An answer whose body we cut off still answered: its status is what counts. */
    if ((code == CURLE_OK || (code == CURLE_WRITE_ERROR && post->cut_off)) && status >= 200 &&
        status <= 299) {
        result = FETCH_OK;
    } else if ((code == CURLE_OK || (code == CURLE_WRITE_ERROR && post->cut_off)) && status > 0) {
        snprintf(err, err_size, "%s answered %ld", post->host, status);
        result = FETCH_HTTP_STATUS;
    } else if (post->guard.blocked && code == CURLE_COULDNT_CONNECT) {
        snprintf(err, err_size, "the address of %s is not public", post->host);
        result = FETCH_BLOCKED;
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, err_size, "%s did not answer in time", post->host);
        result = FETCH_TIMEOUT;
    } else if (code == CURLE_COULDNT_RESOLVE_HOST) {
        snprintf(err, err_size, "could not resolve %s", post->host);
        result = FETCH_UNREACHABLE;
    } else {
        /* libcurl's own message only for TLS (it names the certificate problem, never the URL) */
        bool tls = code == CURLE_SSL_CONNECT_ERROR || code == CURLE_PEER_FAILED_VERIFICATION ||
                   code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_CIPHER ||
                   code == CURLE_SSL_CACERT_BADFILE;
        snprintf(err, err_size, "could not post to %s: %s", post->host,
                 tls && post->error_buffer[0] ? post->error_buffer : curl_easy_strerror(code));
        result = FETCH_UNREACHABLE;
    }
    post_free(post);
    return result;
}
