/* fetch_post.h — the guarded client's POST: a small body sent to a user-given URL (task callbacks).
 *
 * The same guard as net/fetch.h: every address a connection is about to use is checked at connect
 * time (libcurl's open-socket hook) and must be public unless the URL's host matches the policy's
 * allow-list, so DNS rebinding cannot slip past. Beyond fetch.h's rules: redirects are never followed
 * (a 3xx is the answer), plain http can be limited to allow-listed hosts (https_only), and the
 * response body is read and thrown away, at most max_response_bytes of it (a larger answer is cut off;
 * its status still counts). No proxy from the environment is used.
 *
 * Driven by the caller: fetch_post_begin prepares a libcurl easy handle (add it to a multi handle, or
 * run curl_easy_perform), fetch_post_end takes libcurl's verdict, answers and frees. Not thread-safe
 * per transfer; transfers are independent. */
#ifndef REELAY_NET_FETCH_POST_H
#define REELAY_NET_FETCH_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

#include "net/fetch.h"

typedef struct fetch_post_options {
    const fetch_policy *policy; /* allow-list and connect timeout (must outlive the transfer) */
    long timeout_ms;            /* the whole exchange, connect included (default 10 s) */
    size_t max_response_bytes;  /* response body read before cutting off (default 64 KiB) */
    bool https_only;            /* http:// only to hosts on the allow-list */
} fetch_post_options;

typedef struct fetch_post fetch_post;

/* Prepares a POST of body (copied; body_size bytes) to url with extra request headers (NULL-terminated
 * "Name: value" lines; "User-Agent: reelay" is set unless given). Returns NULL with *result and err
 * when it cannot start: FETCH_INVALID_URL for a URL that is not absolute http(s) with a host, or http
 * to a host not allowed by https_only; FETCH_UNREACHABLE for local trouble. err never quotes the URL. */
fetch_post *fetch_post_begin(const char *url, const char *const *headers, const char *body, size_t body_size,
                             const fetch_post_options *options, fetch_result *result, char *err,
                             size_t err_size);

/* The transfer's easy handle (CURLOPT_PRIVATE is free for the caller). */
CURL *fetch_post_easy(fetch_post *post);

/* Finishes a transfer with libcurl's result code and frees it (the caller has removed the easy handle
 * from its multi handle). *http_status (may be NULL) gets the answer's status, 0 when none came.
 * FETCH_OK for a 2xx; FETCH_HTTP_STATUS for any other status (3xx included); FETCH_BLOCKED when the
 * guard refused the address; FETCH_TIMEOUT; FETCH_UNREACHABLE otherwise — with a message in err naming
 * the host, never the URL. */
fetch_result fetch_post_end(fetch_post *post, CURLcode code, long *http_status, char *err, size_t err_size);

#endif
