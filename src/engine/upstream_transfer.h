/* upstream_transfer.h — one request to a provider channel, carried on the upstream runner's libcurl
 * multi handle: an easy handle made from an upstream_request (set up by net/curl_setup.h, every option
 * checked), the answer's body collected up to 1 MiB (a larger answer fails the transfer) and the
 * headers that carry a provider's wishes (Retry-After, retry-after-ms, openai-poll-after-ms) kept.
 *
 * A request that carries the channel's credential is only ever sent to the channel's own origin.
 * Provider channels are configured by the operator: no address guard, and no redirects followed.
 * Owned by the runner thread; one transfer per task at a time. */
#ifndef REELAY_ENGINE_UPSTREAM_TRANSFER_H
#define REELAY_ENGINE_UPSTREAM_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#include "upstream/upstream.h"

enum { UPSTREAM_TRANSFER_BODY_LIMIT = 1 << 20 };

typedef struct upstream_transfer {
    CURL *easy; /* NULL while idle */
    struct curl_slist *headers;
    upstream_request request; /* the request in flight (its body is sent without a copy) */
    char *body;               /* the answer so far, NUL-terminated; NULL when empty */
    size_t body_size;
    char retry_after[64], retry_after_ms[32], poll_after_ms[32]; /* "" when absent */
} upstream_transfer;

/* Starts *request (moved in: *request is cleared whatever happens) on multi, with private_data as the
 * easy handle's CURLOPT_PRIVATE and timeout_ms for the whole exchange. base_url is the channel's: a
 * request carrying the credential elsewhere is refused. Returns true when started, false with a reason
 * in err (nothing was sent; the transfer stays idle). t must be idle. */
bool upstream_transfer_start(upstream_transfer *t, CURLM *multi, upstream_request *request,
                             const char *base_url, int64_t timeout_ms, void *private_data, char *err,
                             size_t err_size);

/* True while a request is in flight. */
bool upstream_transfer_active(const upstream_transfer *t);

/* How a finished request went. */
typedef struct upstream_transfer_result {
    long status;         /* the answer's status, 0 when none came */
    bool never_left;     /* libcurl never started sending (it waited for a connection the whole time) */
    bool connect_failed; /* libcurl's code says no connection was made (DNS, connect, TLS) */
    upstream_response response; /* the answer, pointing into t: valid until the next start or clear */
} upstream_transfer_result;

/* Ends the transfer libcurl reported done with code: detaches and frees its easy handle and request,
 * keeps the answer for out->response. t must be active. */
void upstream_transfer_end(upstream_transfer *t, CURLM *multi, CURLcode code, upstream_transfer_result *out);

/* Stops a transfer in flight (if any) and frees everything t holds; t is idle afterwards. */
void upstream_transfer_clear(upstream_transfer *t, CURLM *multi);

#endif
