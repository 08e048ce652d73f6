/* fetch.h — the one guarded client for fetching user-given URLs (task inputs, later uploads by URL).
 *
 * Guard: only http and https; every address a connection is about to use (including after redirects)
 * must be public — not private, loopback, link-local, multicast, unspecified, CGNAT, or IPv4-mapped
 * forms of those — unless the URL's host (name or address) matches the allow-list. The check happens
 * on the resolved address at connect time (libcurl's open-socket hook), so DNS rebinding cannot slip
 * past it. Limits: size (the body is cut off and the fetch fails as too large), connect and total time,
 * redirect count. Blocking: call from an engine or worker thread, never from an HTTP thread. */
#ifndef REELAY_NET_FETCH_H
#define REELAY_NET_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef struct fetch_policy {
    size_t max_bytes;        /* default 512 MiB */
    long connect_timeout_ms; /* default 10 s */
    long total_timeout_ms;   /* default 300 s */
    int max_redirects;       /* default 5 */
    const char *allow_list;  /* comma-separated host names, IP addresses or CIDRs (v4 or v6) that may be
                                non-public, e.g. "127.0.0.1,localhost,10.0.0.0/8"; borrowed, not copied;
                                NULL or "" = none (the default) */
} fetch_policy;

/* Fills *policy with the defaults above. It reads no environment: the caller sets what the operator
 * configured (serve: --fetch-max-bytes, --fetch-timeout-ms, --fetch-allow) over the defaults. */
void fetch_policy_init(fetch_policy *policy);

/* libcurl's process-wide setup (curl_global_init), done once whoever calls first; every user of libcurl
 * in reelay goes through this. False when libcurl could not start. Any thread. */
bool fetch_library_ready(void);

typedef enum {
    FETCH_OK = 0,
    FETCH_INVALID_URL, /* not an absolute http(s) URL */
    FETCH_BLOCKED,     /* resolved to a non-public address that is not allow-listed */
    FETCH_UNREACHABLE, /* DNS failure, connection refused, TLS failure, reset … */
    FETCH_HTTP_STATUS, /* the server answered with a status outside 200–299 */
    FETCH_TOO_LARGE,   /* more than max_bytes (by Content-Length or as received) */
    FETCH_TIMEOUT,
} fetch_result;

const char *fetch_result_name(fetch_result result); /* "ok", "invalid_url", "blocked", … */

typedef struct fetch_response {
    long http_status;
    char content_type[128]; /* as sent, "" if none */
    size_t size;            /* bytes written */
} fetch_response;

/* Downloads url into the file at path (created or truncated; removed on failure). Returns FETCH_OK or
 * the reason it failed, with a human-readable err (never containing credentials from the URL). */
fetch_result fetch_url_to_file(const char *url, const char *path, const fetch_policy *policy,
                               fetch_response *out, char *err, size_t err_size);

/* The same, sending extra request headers (NULL-terminated "Name: value" lines, e.g. a provider's
 * Authorization for its own download endpoint; libcurl drops it if a redirect leaves the host). */
fetch_result fetch_url_to_file_with_headers(const char *url, const char *const *headers, const char *path,
                                            const fetch_policy *policy, fetch_response *out, char *err,
                                            size_t err_size);

/* The same download, driven by the caller: begin prepares it (the guard, limits and headers are set on
 * its libcurl easy handle, the file is created) and returns NULL with *result and err when it cannot
 * start; the caller runs fetch_transfer_easy(t) — with curl_easy_perform or on a multi handle — and
 * then calls fetch_transfer_end with libcurl's verdict, which closes the file (removing it on failure),
 * frees the transfer and answers as fetch_url_to_file does. policy must outlive the transfer. */
typedef struct fetch_transfer fetch_transfer;
fetch_transfer *fetch_transfer_begin(const char *url, const char *const *headers, const char *path,
                                     const fetch_policy *policy, fetch_result *result, char *err,
                                     size_t err_size);
CURL *fetch_transfer_easy(fetch_transfer *transfer);
fetch_result fetch_transfer_end(fetch_transfer *transfer, CURLcode code, fetch_response *out, char *err,
                                size_t err_size);

/* The address rules on their own, for other checks (callback URLs, webhooks):
 * true when addr is a public unicast address. */
bool net_address_is_public(const struct sockaddr *addr);
/* True when host (as written in the URL, without brackets) or addr (may be NULL) matches an entry of
 * allow_list (host names compare case-insensitively; CIDRs and addresses match addr or a literal host). */
bool net_allow_list_matches(const char *allow_list, const char *host, const struct sockaddr *addr);

#endif
