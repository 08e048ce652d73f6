/* upstream_transfer.h — one request to a provider channel, carried on the upstream runner's libcurl
 * multi handle: an easy handle made from an upstream_request (set up by net/curl_setup.h, every option
 * checked), the answer's body collected up to 1 MiB (a larger answer fails the transfer) and the
 * headers that carry a provider's wishes (Retry-After, retry-after-ms, openai-poll-after-ms) kept.
 *
 * A request that carries the channel's credential is only ever sent to the channel's own origin.
 * Provider channels are configured by the operator: no address guard, and no redirects followed.
 * Owned by the runner thread; one transfer per task at a time. A transfer is allocated when its request
 * starts and freed once its answer has been read (upstream_transfer_free): a task waiting between requests
 * holds none. */
#ifndef REELAY_ENGINE_UPSTREAM_TRANSFER_H
#define REELAY_ENGINE_UPSTREAM_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "upstream/upstream.h"

enum { UPSTREAM_TRANSFER_BODY_LIMIT = 1 << 20 };

typedef struct upstream_transfer {
    CURL *easy; /* NULL once ended */
    struct curl_slist *headers;
    char *request_body; /* the request's body (libcurl sends it without a copy), or NULL */
    char *body;         /* the answer so far, NUL-terminated; NULL when empty */
    size_t body_size;
    char retry_after[64], retry_after_ms[32], poll_after_ms[32]; /* "" when absent */
} upstream_transfer;

/* Starts *request (moved in: *request is cleared whatever happens) on multi, with private_data as the
 * easy handle's CURLOPT_PRIVATE and timeout_ms for the whole exchange. base_url is the channel's: a
 * request carrying the credential elsewhere is refused. Returns the transfer in flight (the caller's, to
 * free with upstream_transfer_free), or NULL with a reason in err (nothing was sent). */
upstream_transfer *upstream_transfer_start(CURLM *multi, upstream_request *request, const char *base_url,
                                           int64_t timeout_ms, void *private_data, char *err,
                                           size_t err_size);

/* True while t's request is in flight (false for NULL). */
bool upstream_transfer_active(const upstream_transfer *t);

/* How a finished request went. */
typedef struct upstream_transfer_result {
    long status;         /* the answer's status, 0 when none came */
    bool never_left;     /* libcurl never started sending (it waited for a connection the whole time) */
    bool connect_failed; /* libcurl's code says no connection was made (DNS, connect, TLS) */
    upstream_response response; /* the answer, pointing into t: valid until t is freed */
} upstream_transfer_result;

/* Ends the transfer libcurl reported done with code: detaches and frees its easy handle and request,
 * keeps the answer for out->response. t must be active. */
void upstream_transfer_end(upstream_transfer *t, CURLM *multi, CURLcode code, upstream_transfer_result *out);

/* Stops t's request if it is still in flight and frees everything t holds, t included (NULL: nothing). */
void upstream_transfer_free(upstream_transfer *t, CURLM *multi);

#endif
