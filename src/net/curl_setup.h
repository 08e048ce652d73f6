/* curl_setup.h — the one place a libcurl easy handle of reelay is set up: downloads and range reads of
 * user-given URLs (net/fetch.h, net/range_reader.h), guarded POSTs (net/fetch_post.h) and the engine's
 * requests to provider channels all describe what they need in a net_curl_options and call
 * net_curl_setup, which sets every option and checks every one.
 *
 * The guard: a transfer given a net_guard has every socket libcurl is about to open (the first hop and
 * each redirect) checked in libcurl's open-socket hook — the resolved address must be public unless the
 * host or address is on the allow-list (net_address_is_public, net_allow_list_matches in fetch.h) — so
 * DNS rebinding cannot slip past, and it never uses a proxy from the environment (the guard would see
 * the proxy's address, not the target's). Provider channels are configured by the operator and are not
 * guarded (their traffic honours the environment's proxy settings).
 *
 * Also here: parsing a URL the way the guard reads it (absolute http(s) with a host), and the message
 * and result a failed guarded GET is reported with, shared by the download and the range reader. */
#ifndef REELAY_NET_CURL_SETUP_H
#define REELAY_NET_CURL_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>

#include "net/fetch.h"

enum { NET_HOST_SIZE = 256 };

/* The open-socket hook's state for one guarded transfer. Initialise with net_guard_init; it must
 * outlive the transfer. */
typedef struct net_guard {
    CURL *easy;                       /* read for the effective URL when host is NULL */
    const char *allow_list;           /* as fetch_policy.allow_list; NULL = none */
    const char *host;                 /* the host every connection is for (no redirects), or NULL: the current
                                         URL's host is read from easy at each connect (redirects followed) */
    bool blocked;                     /* set when the hook refused a socket */
    char blocked_host[NET_HOST_SIZE]; /* the host it refused, "" when unknown */
} net_guard;

/* Resets *guard for a transfer on easy (may be NULL when host is given). Strings are not copied. */
void net_guard_init(net_guard *guard, CURL *easy, const char *allow_list, const char *host);

/* Everything net_curl_setup sets. Zero-initialise, then fill what the transfer needs: a zero or NULL
 * field sets nothing (libcurl's default stays), except where said. */
typedef struct net_curl_options {
    const char *url;                  /* the URL as text, or */
    CURLU *parsed_url;                /* the URL parsed (owned by the caller, must outlive the transfer) */
    char *error_buffer;               /* CURL_ERROR_SIZE bytes for libcurl's message, or NULL */
    net_guard *guard;                 /* NULL = no address check (provider channels only) */
    bool follow_redirects;            /* off: a 3xx is the answer */
    long max_redirects;               /* with follow_redirects: negative counts as 0 */
    long connect_timeout_ms;          /* 0 = libcurl's default */
    long total_timeout_ms;            /* 0 = no limit */
    curl_off_t max_file_size;         /* bodies announced larger fail at once; 0 = no limit */
    const struct curl_slist *headers; /* extra request headers (must outlive the transfer) */
    const char *method; /* sent as is (CURLOPT_CUSTOMREQUEST); NULL = GET, or POST with a body */
    const char *body;   /* request body, or NULL for none */
    size_t body_size;
    bool copy_body;                 /* libcurl keeps a copy; else body must outlive the transfer */
    curl_write_callback write_body; /* the response body; NULL = libcurl writes it to stdout */
    void *write_body_data;
    curl_write_callback write_header; /* each response header line, or NULL */
    void *write_header_data;
    const char *user_agent;       /* NULL = none sent */
    void *private_data;           /* CURLOPT_PRIVATE */
    bool no_body;                 /* a HEAD request (CURLOPT_NOBODY): no response body is waited for */
    curl_read_callback read_body; /* an upload (PUT) whose body this callback streams, or NULL */
    void *read_body_data;         /* (also given to seek_body) */
    curl_seek_callback seek_body; /* with read_body: rewinds the body when libcurl must resend it, or NULL */
    curl_off_t upload_size;       /* with read_body: the body's exact size in bytes */
    const char *aws_sigv4; /* libcurl signs the request (CURLOPT_AWS_SIGV4, "aws:amz:REGION:SERVICE") */
    const char *username;  /* with aws_sigv4: the access key id; else HTTP authentication's user */
    const char *password;  /* with aws_sigv4: the secret access key */
    CURLSH *share; /* connections and DNS answers shared with other handles (CURLOPT_SHARE), or NULL */
} net_curl_options;

/* Sets options on easy: always no signals and http/https only (redirects too); the rest as described
 * above. Returns CURLE_OK, or the first libcurl failure (the handle is then only fit for cleanup). */
CURLcode net_curl_setup(CURL *easy, const net_curl_options *options);

/* The options of a guarded GET of a user-given URL under policy (fetch.h): the guard, redirects up to
 * policy->max_redirects, its timeouts and size limit, "reelay" as the user agent. The caller adds the
 * URL, the error buffer and the body callback. policy must outlive the transfer. */
net_curl_options net_curl_fetch_options(const fetch_policy *policy, net_guard *guard);

/* Appends one "Name: value" line to *list. CURLE_OK, or CURLE_OUT_OF_MEMORY (*list is unchanged). */
CURLcode net_curl_header_append(struct curl_slist **list, const char *line);

/* Checks that url is an absolute http(s) URL with a usable host and at most max_length bytes. On
 * FETCH_OK, *out owns the parsed form (curl_url_cleanup) and host holds the host as the allow-list
 * compares it (no brackets, userinfo or port). Else FETCH_INVALID_URL (or FETCH_UNREACHABLE when out of
 * memory) with a message in err that never quotes the URL; `action` completes "only http and https URLs
 * can be …" ("fetched", "used"). */
fetch_result net_url_parse(const char *url, size_t max_length, const char *action, CURLU **out, char *host,
                           size_t host_size, char *err, size_t err_size);

/* The host of a parsed URL or of a URL as text, as the allow-list compares it. False if none or if it
 * does not fit out. */
bool net_url_host(CURLU *parsed, char *out, size_t out_size);
bool net_url_text_host(const char *url, char *out, size_t out_size);

/* Describes a guarded GET that libcurl failed with code (not CURLE_OK): the guard's refusal, a time-out
 * (before or after connecting), a redirect off http(s) or past the limit, DNS, connection and TLS
 * failures. host names the server involved (never the URL: it may carry credentials); error_buffer is
 * the transfer's libcurl message ("" if none). Returns the result with its message in err. */
fetch_result net_curl_describe_failure(CURLcode code, CURL *easy, const net_guard *guard,
                                       const fetch_policy *policy, const char *host, const char *error_buffer,
                                       char *err, size_t err_size);

#endif
