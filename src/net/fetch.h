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
    size_t max_bytes;          /* default 512 MiB */
    long connect_timeout_ms;   /* default 10 s */
    long total_timeout_ms;     /* default 300 s */
    int max_redirects;         /* default 5 */
    const char *allow_list;    /* comma-separated host names, IP addresses or CIDRs (v4 or v6) that may be
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
    FETCH_INVALID_URL,    /* not an absolute http(s) URL */
    FETCH_BLOCKED,        /* resolved to a non-public address that is not allow-listed */
    FETCH_UNREACHABLE,    /* DNS failure, connection refused, TLS failure, reset … */
    FETCH_HTTP_STATUS,    /* the server answered with a status outside 200–299 */
    FETCH_TOO_LARGE,      /* more than max_bytes (by Content-Length or as received) */
    FETCH_TIMEOUT,
} fetch_result;

const char *fetch_result_name(fetch_result result); /* "ok", "invalid_url", "blocked", … */

typedef struct fetch_response {
    long http_status;
    char content_type[128];    /* as sent, "" if none */
    size_t size;               /* bytes written */
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
                                     const fetch_policy *policy, fetch_result *result, char *err, size_t err_size);
CURL *fetch_transfer_easy(fetch_transfer *transfer);
fetch_result fetch_transfer_end(fetch_transfer *transfer, CURLcode code, fetch_response *out, char *err,
                                size_t err_size);

/* The address rules on their own, for other checks (callback URLs, webhooks):
 * true when addr is a public unicast address. */
bool net_address_is_public(const struct sockaddr *addr);
/* True when host (as written in the URL, without brackets) or addr (may be NULL) matches an entry of
 * allow_list (host names compare case-insensitively; CIDRs and addresses match addr or a literal host). */
bool net_allow_list_matches(const char *allow_list, const char *host, const struct sockaddr *addr);

/* ---- the range reader: parts of a remote file without downloading all of it ----
 *
 * Probing an input (kind, container, duration) needs its headers and, for an MP4 whose index sits at
 * the end, a few blocks from the end: a few hundred KiB of a file that may be hundreds of MiB. The
 * reader opens a URL once (same guard, allow-list, redirect and size rules as above: the connect-time
 * address check applies to every connection it makes) and then reads byte ranges with
 * `Range: bytes=a-b` requests on one reused connection (keep-alive). After a redirect the final URL is
 * kept, so later ranges do not repeat the redirect.
 *
 * A server that ignores Range (200 with the whole body) is read from the start, keeping at most
 * whole_body_cap bytes in memory; reads inside that prefix are served from it, reads past it fail as
 * FETCH_TOO_LARGE ("no ranges"; fetch_reader_ranges_supported tells the caller). Every byte the server
 * sends counts against max_read_bytes, and open plus all reads share one time budget. Whatever the
 * server says is checked: a Content-Range that is not exactly the range asked for (or one consistent
 * with the size seen so far), more body than announced, a body cut short, or a multipart answer fails
 * the reader as FETCH_UNREACHABLE. Failures are sticky: once a read fails, every later read fails the
 * same way (fetch_reader_error says why), so a demuxer cannot retry a hostile server forever.
 *
 * Blocking; one reader belongs to one thread at a time. */
typedef struct fetch_reader_limits {
    size_t max_read_bytes; /* body bytes all requests together may bring in (default 64 MiB) */
    long total_timeout_ms; /* from open to the last read (default 30 s; the policy's total_timeout_ms
                              caps it too) */
    size_t read_ahead;     /* smallest range requested, so that small sequential reads share one request
                              (default 64 KiB) */
    size_t whole_body_cap; /* a server ignoring Range: bytes of its body kept (default 16 MiB; never more
                              than max_read_bytes) */
} fetch_reader_limits;

/* Fills *limits with the defaults above. */
void fetch_reader_limits_init(fetch_reader_limits *limits);

typedef struct fetch_reader fetch_reader;

/* Opens url: checks it, connects (guarded) and reads its first block, learning the size (from
 * Content-Range, or Content-Length when Range is ignored) and whether ranges work. policy NULL = the
 * defaults of fetch_policy_init, limits NULL = those of fetch_reader_limits_init; both are copied
 * (policy->allow_list must outlive the reader). Returns NULL with *result and err on failure — the same
 * results and messages as fetch_url_to_file (never quoting the URL). */
fetch_reader *fetch_reader_open(const char *url, const fetch_policy *policy,
                                const fetch_reader_limits *limits, fetch_result *result, char *err,
                                size_t err_size);

/* Copies up to length bytes at offset into buffer. Returns the number copied (> 0; may be fewer than
 * asked, never past the end), 0 at or past the end of the file, -1 on failure (fetch_reader_error says
 * why; the failure is sticky) or for a negative offset (errno EINVAL, not sticky). */
ssize_t fetch_reader_read(fetch_reader *reader, int64_t offset, void *buffer, size_t length);

/* Size of the file in bytes, -1 while unknown (a server that says neither Content-Range totals nor
 * Content-Length). */
int64_t fetch_reader_size(const fetch_reader *reader);

/* False when the server ignored Range: only the first whole_body_cap bytes can be read. */
bool fetch_reader_ranges_supported(const fetch_reader *reader);

/* Body bytes received so far (redirect bodies included) and HTTP requests made, open included. */
uint64_t fetch_reader_bytes_read(const fetch_reader *reader);
unsigned fetch_reader_request_count(const fetch_reader *reader);

/* FETCH_OK while the reader is healthy; else the sticky failure, with its message in err. */
fetch_result fetch_reader_error(const fetch_reader *reader, char *err, size_t err_size);

/* Closes the connection and frees the reader. NULL is ignored. */
void fetch_reader_close(fetch_reader *reader);

#endif
