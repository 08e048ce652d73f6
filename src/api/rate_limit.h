/* rate_limit.h — requests per minute per API key, shared by every HTTP thread of the process and, on a
 * shared database, by every node of the cluster.
 *
 * Fixed one-minute windows aligned to the clock (a window starts at each whole minute): a key with a
 * limit of N may make N authenticated requests per window; the next one is refused until the window
 * ends. Every authenticated request counts (creating, polling, listing …). Thread-safe.
 *
 * Across nodes. Each node counts what it accepts itself (its own count) and learns what the others
 * accepted (their count) from the database: an exchange thread (rate_limit_start_exchange) sends the
 * node's changed counts and reads back the sum of every other node's counts of the current window,
 * every RATE_LIMIT_EXCHANGE_INTERVAL_MS. A request is allowed iff own + others < limit, and
 * X-RateLimit-Remaining is limit − own − others.
 *
 * Tolerance: a node's view of the others lags by at most about two exchange intervals (their last send
 * and its last read), plus a database round trip. So the cluster may accept beyond the limit at most
 * what the OTHER nodes accept of that key within those two intervals (about 0.5 s at the default 250 ms)
 * while it is nearly exhausted — and never more than (number of nodes) × the limit. It never refuses
 * early because of the exchange (the others' counts are what they really accepted). One node (SQLite,
 * or a single node on PostgreSQL) is exact. Windows follow each node's clock: keep the nodes' clocks in
 * step (NTP); a skew of s seconds lets the windows overlap or gap by s. A node that cannot reach the
 * database keeps limiting with the last counts it learned, and sends its counts again once it can. */
#ifndef REELAY_API_RATE_LIMIT_H
#define REELAY_API_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* How often the nodes exchange their counts (the interval of the tolerance above). */
#define RATE_LIMIT_EXCHANGE_INTERVAL_MS 250

/* How many keys one exchange can carry at most (the size of the process's table of counters). */
#define RATE_LIMIT_MAX_KEYS 8192

typedef struct rate_verdict {
    bool allowed;
    int limit;         /* the key's limit */
    int remaining;     /* requests left in this window (the cluster's) after this one */
    int reset_seconds; /* seconds until the window ends (≥ 1) */
} rate_verdict;

/* Counts one request of key_id against limit (> 0) at now_ms (Unix milliseconds): allowed iff this
 * node's count plus the other nodes' last known count of the window is below the limit; only an
 * allowed request is counted. */
rate_verdict rate_limit_take(const char *key_id, int limit, int64_t now_ms);

/* ---- The exchange's halves (pure: no database; rate_limit_exchange_once puts them together). ---- */

/* Copies into out (at most capacity entries) this node's counts of window `window` (Unix ms / 60000)
 * that changed since they were last marked sent; returns how many. Nothing is marked: see below. */
size_t rate_limit_collect(int64_t window, rate_count *out, size_t capacity);
/* Marks counts the database has recorded (what rate_limit_collect returned, once the exchange
 * succeeded): each is not collected again until it grows. */
void rate_limit_mark_sent(int64_t window, const rate_count *sent, size_t count);
/* Records the other nodes' counts of `window` (the exchange's answer): a key's others' count only
 * grows within a window. A key this node has not seen yet in the window gets a counter (when the table
 * has room), so its first request here already counts the others'. */
void rate_limit_apply_others(int64_t window, const rate_count *others, size_t count);

/* ---- The exchange (rate_limit_exchange.c). ---- */

/* One exchange for the node of `epoch` on db at now_ms: collect, store_rate_counts_exchange, then mark
 * what was sent and apply the others' counts. buffer holds capacity entries (scratch). The store's
 * status: on an error nothing is marked (the counts are sent again next time) and the others' counts
 * stay as last learned. */
store_status rate_limit_exchange_once(store *db, int64_t epoch, int64_t now_ms, rate_count *buffer,
                                      size_t capacity);

/* Starts the exchange thread for the node of `epoch` (engine_node_epoch), every interval_ms (> 0), on
 * its own connection to database_url (store_open_url with data_dir). On a database that is not shared
 * (SQLite: one node serves it) nothing is started and the limit stays exact. True when running or not
 * needed; false after logging why (the connection or the thread could not be made). Call once. */
bool rate_limit_start_exchange(const char *database_url, const char *data_dir, int64_t epoch,
                               int interval_ms);
/* Stops the thread (it finishes the exchange under way) and closes its connection; nothing when it
 * was not started. */
void rate_limit_stop_exchange(void);

#endif
