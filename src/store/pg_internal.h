/* pg_internal.h — the PostgreSQL backend of store.h (libpq): its entry points, one pg_store_X per
 * store_X with the same contract (store.c dispatches to them), and what its files share: the
 * connection and small query helpers (store_pg_query.c). Not part of the module's contract (that is
 * store.h); only the files of store/ include it. Opening and the migrations are in store_pg.c; each
 * other file owns one area of the schema, as on SQLite.*/
#ifndef REELAY_STORE_PG_INTERNAL_H
#define REELAY_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_common.h"

typedef struct pg_store {
    PGconn *conn;
    bool in_transaction; /* between pg_begin and pg_end: a lost connection is not reopened there */
    int64_t lease_epoch; /* store_set_lease_epoch: engine writes are fenced by it, inserts carry it */
} pg_store;

/* Runs one statement with `count` text parameters (NULL = SQL NULL). A connection found lost (the server
 * restarted, a network cut) is reopened first, unless a transaction is open (its statements so far are
 * gone with it: the statement fails, pg_end rolls back, and the next call reopens). STORE_OK with the
 * result in *out
 * (the caller PQclears it; out may be NULL when the result is not wanted); STORE_CONFLICT on a unique
 * violation (not logged); STORE_ERROR otherwise (logged with `what`), *out NULL. */
store_status pg_query(pg_store *s, const char *what, PGresult **out, const char *sql, int count,
                      const char *const *values);
/* Rows an INSERT, UPDATE or DELETE changed. */
int64_t pg_changed(PGresult *result);
/* Opens a transaction (READ COMMITTED: every compare-and-set is an UPDATE … WHERE, and the admission
 * and quota paths lock what they read). */
store_status pg_begin(pg_store *s, const char *what);
/* Commits when status is STORE_OK (a failed commit becomes STORE_ERROR), otherwise rolls back. Returns
 * the final status. */
store_status pg_end(pg_store *s, store_status status, const char *what);

/* Parameters as text: an integer, and bytes as bytea's \x hex (at most PG_HEX_BYTES). Each returns
 * buffer->text, valid while the buffer lives. */
typedef struct pg_number {
    char text[24];
} pg_number;
#define PG_HEX_BYTES 32
typedef struct pg_hex {
    char text[2 + 2 * PG_HEX_BYTES + 1];
} pg_hex;
const char *pg_int(pg_number *buffer, int64_t value);
const char *pg_bytes(pg_hex *buffer, const unsigned char *bytes, size_t size);

/* Result fields (text format): an integer (0 for NULL), a boolean ('t'), a copy into a fixed buffer
 * ("" for NULL, truncated), a malloc'd copy (NULL for NULL; sets *failed when out of memory). */
int64_t pg_get_int(const PGresult *result, int row, int column);
bool pg_get_bool(const PGresult *result, int row, int column);
void pg_copy_text(char *out, size_t size, const PGresult *result, int row, int column);
char *pg_dup_text(const PGresult *result, int row, int column, bool *failed);

/* The columns every task read selects, in the order pg_read_task expects (store_pg_tasks.c). */
#define PG_TASK_COLUMNS                                                                                      \
    "id, key_id, model, state, progress, created_at, updated_at, deadline_at, completed_at, channel, "       \
    "user_group, credits_reserved, params_json, results_json, error_code, error_message, upstream_json, "    \
    "billing_json, remixed_from"

/* Every row of a result of PG_TASK_COLUMNS into a malloc'd array (*out NULL when *count is 0; free with
 * task_records_free). Frees the result. */
store_status pg_collect_tasks(PGresult *result, task_record **out, size_t *count);
/* Inserts one task row (inside the caller's transaction, or alone). CONFLICT on a duplicate id. */
store_status pg_task_insert(pg_store *s, const task_record *task);
/* The same inside an admission: a task of the same id is not an error (the transaction goes on);
 * *inserted says whether this one went in. */
store_status pg_task_insert_new(pg_store *s, const task_record *task, bool *inserted);

/* Inside a transaction that just finished task `task_id` (store_pg_credits.c): releases its
 * reservation exactly once — a refund of all of it, or a settlement charging `charge` (clamped to the
 * reservation; -1 = all of it) and returning the rest — moving the key's balances. A task without a
 * reservation is left alone. */
store_status pg_credits_release_tx(pg_store *s, const char *task_id, bool refund, int64_t charge,
                                   int64_t now);
/* Inside the same transaction (store_pg_callbacks.c): queues the task's callback when its parameters
 * carry a callback_url (due at once). */
store_status pg_callback_queue_tx(pg_store *s, const char *task_id, int64_t now);

/* Connects to `url` (postgres://…), applies the missing migrations under an advisory lock and refuses
 * a schema newer than this program. STORE_ERROR (logged, without the URL) on any failure. */
store_status pg_store_open(const char *url, pg_store **out);
void pg_store_close(pg_store *s);

/* The functions of store.h with the same contracts, on a PostgreSQL connection. */
store_status pg_store_checkpoint(pg_store *s);
store_status pg_store_key_insert(pg_store *s, const key_record *key,
                                 const unsigned char hash[STORE_KEY_HASH_SIZE],
                                 const char *webhook_secret_sealed);
store_status pg_store_key_update_limits(pg_store *s, const char *id, const char *user_group, int rpm_limit,
                                        int max_concurrent);
store_status pg_store_key_webhook_secret(pg_store *s, const char *id, char *out, size_t out_size);
store_status pg_store_key_find_by_hash(pg_store *s, const unsigned char hash[STORE_KEY_HASH_SIZE],
                                       key_record *out);
store_status pg_store_key_list(pg_store *s, key_record **out, size_t *count);
store_status pg_store_key_revoke(pg_store *s, const char *id, int64_t now);
store_status pg_store_channel_insert(pg_store *s, const channel_record *channel);
store_status pg_store_channel_update(pg_store *s, const channel_record *channel);
store_status pg_store_channel_remove(pg_store *s, const char *name);
store_status pg_store_channel_list(pg_store *s, channel_record **out, size_t *count);
store_status pg_store_task_insert(pg_store *s, const task_record *task);
store_status pg_store_task_insert_batch(pg_store *s, const task_record *tasks, size_t count);
store_status pg_store_task_get(pg_store *s, const char *id, task_record *out);
store_status pg_store_task_list(pg_store *s, const task_list_query *query, task_record **out, size_t *count,
                                bool *has_more);
store_status pg_store_task_transition(pg_store *s, const char *id, task_state from, task_state to,
                                      const char *channel, int64_t now);
store_status pg_store_task_set_upstream(pg_store *s, const char *id, task_state from, task_state to,
                                        const char *channel, const char *upstream_json, int64_t now);
store_status pg_store_task_take_channel_slot(pg_store *s, const char *id, task_state from,
                                             const char *channel, int cap, const char *upstream_json,
                                             int64_t now, bool *full);
store_status pg_store_task_set_progress(pg_store *s, const char *id, int progress, int64_t now);
store_status pg_store_task_set_results(pg_store *s, const char *id, const char *results_json, int64_t now);
store_status pg_store_task_complete(pg_store *s, const char *id, task_state from, const char *results_json,
                                    int64_t credits_charged, int64_t now);
store_status pg_store_task_fail(pg_store *s, const char *id, const char *code, const char *message,
                                int64_t now);
store_status pg_store_task_cancel(pg_store *s, const char *id, const char *key_id, int64_t now);
store_status pg_store_task_delete(pg_store *s, const char *task_id, const char *key_id,
                                  task_record *deleted_out);
store_status pg_store_task_list_unfinished(pg_store *s, task_record **out, size_t *count);
store_status pg_store_task_count_by_state(pg_store *s, int64_t counts[TASK_STATE_COUNT]);
store_status pg_store_node_register(pg_store *s, const char *name, int64_t lease_ms, int64_t *epoch);
store_status pg_store_node_renew(pg_store *s, int64_t epoch, int64_t lease_ms);
store_status pg_store_node_leave(pg_store *s, int64_t epoch);
store_status pg_store_tasks_claim(pg_store *s, int64_t epoch, size_t limit, task_record **out, size_t *count);
store_status pg_store_task_lease(pg_store *s, const char *id, int64_t *epoch);
store_status pg_store_node_list(pg_store *s, node_record **out, size_t *count);
store_status pg_store_fact_claim(pg_store *s, const char *name, const char *value, char *stored,
                                 size_t stored_size);
/* store_pg_admin.c: facts read and replaced, and what operators see of the tasks */
store_status pg_store_fact_get(pg_store *s, const char *name, char *value, size_t value_size);
store_status pg_store_fact_set(pg_store *s, const char *name, const char *value);
store_status pg_store_task_summary(pg_store *s, int64_t now, task_summary *out);
store_status pg_store_channel_activity(pg_store *s, int64_t since, channel_activity **out, size_t *count);
store_status pg_store_credits_grant(pg_store *s, const char *key_id, int64_t amount, const char *note,
                                    int64_t now);
store_status pg_store_credits_balance(pg_store *s, const char *key_id, credit_balance *out);
store_status pg_store_credits_ledger(pg_store *s, const char *key_id, size_t limit, ledger_entry **out,
                                     size_t *count);
store_status pg_store_credits_audit(pg_store *s, credit_audit *out);
store_status pg_store_usage_daily(pg_store *s, const char *key_id, int64_t since_unix, int64_t until_unix,
                                  usage_day **out, size_t *count);
store_status pg_store_task_admit(pg_store *s, task_admission *items, size_t count, bool wait);
store_status pg_store_idempotency_find(pg_store *s, const char *key_id, const char *idempotency_key,
                                       const unsigned char request_hash[32], int64_t now,
                                       char task_id[IDS_TASK_ID_SIZE], bool *same_request);
store_status pg_store_idempotency_expire(pg_store *s, int64_t now);
store_status pg_store_callbacks_claim_due(pg_store *s, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                                          callback_record **out, size_t *count);
store_status pg_store_callback_finish_attempt(pg_store *s, const char *task_id, int attempt,
                                              callback_state state, int http_status, const char *error,
                                              int64_t next_at_ms, int64_t now_ms);
store_status pg_store_callbacks_next_due(pg_store *s, int64_t *next_at_ms);
store_status pg_store_callback_get(pg_store *s, const char *task_id, callback_delivery *out);
store_status pg_store_upload_insert(pg_store *s, const upload_record *upload, int64_t quota_bytes,
                                    int64_t now, upload_record **evicted, size_t *evicted_count);
store_status pg_store_upload_get(pg_store *s, const char *id, upload_record *out);
store_status pg_store_upload_usage(pg_store *s, const char *key_id, int64_t now, int64_t *bytes,
                                   int64_t *count);
store_status pg_store_uploads_take_expired(pg_store *s, int64_t now, size_t limit, upload_record **out,
                                           size_t *count);
/* store_pg_rates.c */
store_status pg_store_rate_counts_exchange(pg_store *s, int64_t epoch, int64_t window, const rate_count *own,
                                           size_t own_count, rate_count **others, size_t *others_count);

store_status pg_store_signal_send(pg_store *s, const char *kind, const char *payload);
store_status pg_store_signal_listen(pg_store *s);
store_status pg_store_signal_wait(pg_store *s, int timeout_ms, char *kind, size_t kind_size, char *payload,
                                  size_t payload_size);

#endif
