/* Webhook delivery of the fal stand-in (bench/standin/): signs a finished job's webhook as fal does
 * (specs/upstream-apis.md §1.7, like tests/emulators/fal_queue.py) and POSTs it once from the h2o event loop
 * with h2o's HTTP/1 client: no thread, no retry (the Python emulator does not retry either), at most 256
 * connections at once (later ones wait their turn, oldest first).
 *
 * Signature: Ed25519 over request_id "\n" user_id "\n" timestamp "\n" hex(sha256(body)), sent hex-encoded in
 * X-Fal-Webhook-Signature beside X-Fal-Webhook-Request-Id, -User-Id and -Timestamp (unix seconds).
 * Only http://127.0.0.1[:port]/path targets are accepted: the stand-in is a local benchmark fixture.
 * One thread only: every function must run on the loop's thread. */
#ifndef STANDIN_WEBHOOK_H
#define STANDIN_WEBHOOK_H

#include <h2o.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { STANDIN_SIGNATURE_HEX_LENGTH = crypto_sign_BYTES * 2 };

/* Writes the hex Ed25519 signature of request_id\nuser_id\ntimestamp\nhex(sha256(body)) under secret_key
 * into out (STANDIN_SIGNATURE_HEX_LENGTH + 1 bytes, NUL-terminated). Returns false when the message does not
 * fit its buffer (request_id and user_id over 512 bytes together) or signing fails; out is empty then. */
bool standin_webhook_sign(const unsigned char secret_key[crypto_sign_SECRETKEYBYTES], const char *request_id,
                          const char *user_id, uint64_t timestamp, const char *body, size_t body_length,
                          char out[STANDIN_SIGNATURE_HEX_LENGTH + 1]);

/* Whether url (NUL-terminated) is a webhook target this sender accepts: http://127.0.0.1[:port]/… */
bool standin_webhook_url_allowed(const char *url);

/* Prepares the sender on loop: secret_key (copied) signs, user_id (borrowed, must outlive the sender) is
 * sent, a request that makes no progress for io_timeout_ms fails. Returns false when user_id is empty. */
bool standin_webhooks_init(h2o_loop_t *loop, const unsigned char secret_key[crypto_sign_SECRETKEYBYTES],
                           const char *user_id, uint64_t io_timeout_ms);

/* Starts one signed POST of body (copied) to url for request_id; the answer only counts toward the totals.
 * When the request goes out on its connection, the loop's time (Unix ms) is written to *sent_ms (may be NULL;
 * it must outlive the delivery). Returns false (nothing started, counted as failed) when url is not allowed
 * or memory runs out. */
bool standin_webhooks_send(const char *url, const char *request_id, const char *body, size_t body_length,
                           uint64_t *sent_ms);

/* Deliveries so far: answered 2xx, failed (connection error, timeout, other status), still in flight. */
void standin_webhooks_totals(uint64_t *delivered, uint64_t *failed, uint64_t *in_flight);

/* Cancels the deliveries in flight and releases the sender; call before destroying the loop. */
void standin_webhooks_dispose(void);

#endif
