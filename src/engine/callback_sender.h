/* callback_sender.h — delivers task callbacks (a task's `callback_url`) from the store's outbox.
 *
 * When a task finishes (completed, failed or cancelled), the transaction that finishes it — after its
 * credits are settled or refunded — queues a row in the outbox (store.h, "Callbacks"). This sender
 * owns one thread with its own store connection and its own libcurl multi handle, so many deliveries
 * are in flight at once and none waits on another. Each delivery POSTs the task's view
 * (engine/task_view.h: byte-identical to GET /v1/tasks/{id} for the same state) with
 *
 *   Content-Type: application/json, User-Agent: reelay,
 *   webhook-id: msg_<task id>   (the same on every attempt, so receivers can drop duplicates),
 *   webhook-timestamp: <Unix seconds of this attempt>,
 *   webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">   (Standard Webhooks, keyed by
 *                      the API key's own webhook secret, "whsec_…", opened with util/secret_box.h)
 *
 * through the guarded client (net/fetch_post.h: connect-time address check, allow-list from
 * REELAY_FETCH_ALLOW, https only for other hosts, no redirects, the answer's body discarded). Any 2xx
 * is delivered. Otherwise — another status, no answer within the timeout (10 s), a refused address —
 * it is retried 1, 2 and 4 s after the failure: at most 4 attempts, then given up (logged). A key with
 * no webhook secret gets unsigned deliveries (logged as a warning).
 *
 * Durable: the outbox is in the database. An attempt is claimed with a lease (timeout + 1 s) before it
 * starts, so after a crash or restart every callback still due is delivered — one cut short by the
 * crash once its lease has run out. Wake-ups: the thread sleeps until the earliest due time it knows,
 * and looks at the outbox at least every poll interval (250 ms) for callbacks queued by other threads
 * or processes; there is no global sweep beyond that indexed look-up.
 *
 * Never logged: the secret, the signature, the URL (it may carry a token); logged: task id, attempt,
 * status, the failure's reason, the host. */
#ifndef REELAY_ENGINE_CALLBACK_SENDER_H
#define REELAY_ENGINE_CALLBACK_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "engine/task_view.h"
#include "net/fetch.h"

#define CALLBACK_MAX_ATTEMPTS 4 /* the first and 3 retries */

typedef struct callback_sender callback_sender;

typedef struct callback_sender_config {
    const char *data_dir;     /* the secret box's key (credentials.key) lives here (copied) */
    const char *database_url; /* the store (store_open_url; NULL = SQLite in data_dir; copied) */
    task_view_links links;    /* result links in the bodies, as the API makes them (copied) */
    fetch_policy fetch;       /* the allow-list and connect timeout of the guard (copied; its
                                 allow_list string must outlive the sender) */
    int64_t timeout_ms;       /* one attempt, connect to last byte; default 10 000 */
    int64_t retry_delays_ms[CALLBACK_MAX_ATTEMPTS - 1]; /* after each failed attempt; default 1, 2, 4 s */
    int64_t poll_interval_ms; /* longest sleep without looking at the outbox; default 250 */
    size_t max_in_flight;     /* deliveries at once; default 256 */
} callback_sender_config;

/* Starts the thread. NULL (logged) when the store, the secret box or libcurl cannot be opened. */
callback_sender *callback_sender_start(const callback_sender_config *config);
/* Stops the thread, abandoning attempts in flight (they are due again after their lease), and frees. */
void callback_sender_stop(callback_sender *sender);

typedef struct callback_sender_stats {
    size_t in_flight;
    uint64_t delivered, retried, given_up; /* since start */
} callback_sender_stats;
void callback_sender_get_stats(callback_sender *sender, callback_sender_stats *out);

#endif
