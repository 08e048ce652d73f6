/* sqlite_internal.h — the SQLite backend of store.h: its entry points (one sqlite_store_X per store_X;
 * store.c dispatches to them), and what its files share: the connection, the process-wide writer lock
 * and small statement helpers. Not part of the module's contract (that is store.h); only the files of
 * store/ include it. Each file owns one area of the schema (tasks in store_sqlite_tasks.c, keys and
 * channels in store_sqlite_keys.c, credits in store_sqlite_credits.c, uploads in store_sqlite_uploads.c,
 * callbacks in store_sqlite_callbacks.c); opening and the migrations of every area stay in
 * store_sqlite.c, in one ordered list; the statement helpers below are in sqlite_statements.c.
 * Everything SQLite-specific (WAL and its checkpoints, the busy timeout, the writer lock, the task
 * cache) lives behind these files. */
#ifndef REELAY_STORE_SQLITE_INTERNAL_H
#define REELAY_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"
#include "store/store_common.h"

/* The columns every key / task read selects, in the order read_key / read_task expect. */
#define KEY_COLUMNS "id, name, user_group, created_at, revoked_at, rpm_limit, max_concurrent"
#define TASK_COLUMNS                                                                                         \
    "id, key_id, model, state, progress, created_at, updated_at, deadline_at, completed_at, channel, "       \
    "user_group, "                                                                                           \
    "credits_reserved, params_json, results_json, error_code, error_message, upstream_json, billing_json, "  \
    "remixed_from"

/* Statements kept prepared on every connection (the request and admission paths, and the engine's writes
 * over a task's life: preparing them anew took about a tenth of each write's time). */
enum {
    STMT_KEY_BY_HASH,
    STMT_TASK_GET,
    STMT_TASK_INSERT,
    STMT_KEY_BALANCE, /* store_credits.c */
    STMT_KEY_MOVE_CREDITS,
    STMT_LEDGER_APPEND,
    STMT_IDEMPOTENCY_GET,
    STMT_IDEMPOTENCY_PUT,
    STMT_TASK_SET_UPSTREAM, /* store_sqlite_tasks.c: transitions and upstream records */
    STMT_TASK_SET_PROGRESS,
    STMT_TASK_COMPLETE,
    STMT_CALLBACK_QUEUE,
    STMT_RESERVATION_GET, /* store_sqlite_credits.c: a finishing task's reservation */
    STMT_BEGIN_IMMEDIATE, /* sqlite_statements.c: sql_begin, sql_begin_try, sql_end */
    STMT_COMMIT,
    STMT_COUNT
};
enum { TASK_CACHE_ENTRIES = 512 };

typedef struct task_cache_entry {
    task_record task;
    uint64_t version;
    bool used;
} task_cache_entry;

typedef struct sqlite_store sqlite_store;

struct sqlite_store {
    sqlite3 *db;
    sqlite3_stmt *hot[STMT_COUNT];
    task_cache_entry task_cache[TASK_CACHE_ENTRIES];
    int64_t lease_epoch; /* store_set_lease_epoch: engine writes are fenced by it, inserts carry it */
};

/* Opens (creating if needed) <data_dir>/reelay.db and brings its schema up to date (store_open). */
store_status sqlite_store_open(const char *data_dir, sqlite_store **out);
void sqlite_store_close(sqlite_store *s);

/* The functions of store.h with the same contracts, on a SQLite connection. */
store_status sqlite_store_checkpoint(sqlite_store *s);
store_status sqlite_store_key_insert(sqlite_store *s, const key_record *key,
                                     const unsigned char hash[STORE_KEY_HASH_SIZE],
                                     const char *webhook_secret_sealed);
store_status sqlite_store_key_update_limits(sqlite_store *s, const char *id, const char *user_group,
                                            int rpm_limit, int max_concurrent);
store_status sqlite_store_key_webhook_secret(sqlite_store *s, const char *id, char *out, size_t out_size);
store_status sqlite_store_key_find_by_hash(sqlite_store *s, const unsigned char hash[STORE_KEY_HASH_SIZE],
                                           key_record *out);
store_status sqlite_store_key_list(sqlite_store *s, key_record **out, size_t *count);
store_status sqlite_store_key_revoke(sqlite_store *s, const char *id, int64_t now);
store_status sqlite_store_channel_insert(sqlite_store *s, const channel_record *channel);
store_status sqlite_store_channel_update(sqlite_store *s, const channel_record *channel);
store_status sqlite_store_channel_remove(sqlite_store *s, const char *name);
store_status sqlite_store_channel_list(sqlite_store *s, channel_record **out, size_t *count);
store_status sqlite_store_task_insert(sqlite_store *s, const task_record *task);
store_status sqlite_store_task_insert_batch(sqlite_store *s, const task_record *tasks, size_t count);
store_status sqlite_store_task_get(sqlite_store *s, const char *id, task_record *out);
store_status sqlite_store_task_list(sqlite_store *s, const task_list_query *query, task_record **out,
                                    size_t *count, bool *has_more);
store_status sqlite_store_task_transition(sqlite_store *s, const char *id, task_state from, task_state to,
                                          const char *channel, int64_t now);
store_status sqlite_store_task_set_upstream(sqlite_store *s, const char *id, task_state from, task_state to,
                                            const char *channel, const char *upstream_json, int64_t now);
store_status sqlite_store_task_take_channel_slot(sqlite_store *s, const char *id, task_state from,
                                                 const char *channel, int cap, const char *upstream_json,
                                                 int64_t now, bool *full);
store_status sqlite_store_task_set_progress(sqlite_store *s, const char *id, int progress, int64_t now);
store_status sqlite_store_task_set_results(sqlite_store *s, const char *id, const char *results_json,
                                           int64_t now);
store_status sqlite_store_task_complete(sqlite_store *s, const char *id, task_state from,
                                        const char *results_json, int64_t credits_charged, int64_t now);
store_status sqlite_store_task_fail(sqlite_store *s, const char *id, const char *code, const char *message,
                                    int64_t now);
store_status sqlite_store_task_cancel(sqlite_store *s, const char *id, const char *key_id, int64_t now);
store_status sqlite_store_task_delete(sqlite_store *s, const char *task_id, const char *key_id,
                                      task_record *deleted_out);
store_status sqlite_store_task_list_unfinished(sqlite_store *s, task_record **out, size_t *count);
store_status sqlite_store_task_count_by_state(sqlite_store *s, int64_t counts[TASK_STATE_COUNT]);
store_status sqlite_store_node_register(sqlite_store *s, const char *name, int64_t lease_ms, int64_t *epoch);
store_status sqlite_store_node_renew(sqlite_store *s, int64_t epoch, int64_t lease_ms);
store_status sqlite_store_node_leave(sqlite_store *s, int64_t epoch);
store_status sqlite_store_tasks_claim(sqlite_store *s, int64_t epoch, size_t limit, task_record **out,
                                      size_t *count);
store_status sqlite_store_task_lease(sqlite_store *s, const char *id, int64_t *epoch);
store_status sqlite_store_node_list(sqlite_store *s, node_record **out, size_t *count);
store_status sqlite_store_fact_claim(sqlite_store *s, const char *name, const char *value, char *stored,
                                     size_t stored_size);
/* store_sqlite_admin.c: facts read and replaced, and what operators see of the tasks */
store_status sqlite_store_fact_get(sqlite_store *s, const char *name, char *value, size_t value_size);
store_status sqlite_store_fact_set(sqlite_store *s, const char *name, const char *value);
store_status sqlite_store_task_summary(sqlite_store *s, int64_t now, task_summary *out);
store_status sqlite_store_channel_activity(sqlite_store *s, int64_t since, channel_activity **out,
                                           size_t *count);
store_status sqlite_store_credits_grant(sqlite_store *s, const char *key_id, int64_t amount, const char *note,
                                        int64_t now);
store_status sqlite_store_credits_balance(sqlite_store *s, const char *key_id, credit_balance *out);
store_status sqlite_store_credits_ledger(sqlite_store *s, const char *key_id, size_t limit,
                                         ledger_entry **out, size_t *count);
store_status sqlite_store_credits_audit(sqlite_store *s, credit_audit *out);
store_status sqlite_store_usage_daily(sqlite_store *s, const char *key_id, int64_t since_unix,
                                      int64_t until_unix, usage_day **out, size_t *count);
store_status sqlite_store_task_admit(sqlite_store *s, task_admission *items, size_t count, bool wait);
store_status sqlite_store_idempotency_find(sqlite_store *s, const char *key_id, const char *idempotency_key,
                                           const unsigned char request_hash[32], int64_t now,
                                           char task_id[IDS_TASK_ID_SIZE], bool *same_request);
store_status sqlite_store_idempotency_expire(sqlite_store *s, int64_t now);
store_status sqlite_store_callbacks_claim_due(sqlite_store *s, int64_t now_ms, int64_t lease_until_ms,
                                              size_t limit, callback_record **out, size_t *count);
store_status sqlite_store_callback_finish_attempt(sqlite_store *s, const char *task_id, int attempt,
                                                  callback_state state, int http_status, const char *error,
                                                  int64_t next_at_ms, int64_t now_ms);
store_status sqlite_store_callbacks_next_due(sqlite_store *s, int64_t *next_at_ms);
store_status sqlite_store_callback_get(sqlite_store *s, const char *task_id, callback_delivery *out);
store_status sqlite_store_upload_insert(sqlite_store *s, const upload_record *upload, int64_t quota_bytes,
                                        int64_t now, upload_record **evicted, size_t *evicted_count);
store_status sqlite_store_upload_get(sqlite_store *s, const char *id, upload_record *out);
store_status sqlite_store_upload_usage(sqlite_store *s, const char *key_id, int64_t now, int64_t *bytes,
                                       int64_t *count);
store_status sqlite_store_uploads_take_expired(sqlite_store *s, int64_t now, size_t limit,
                                               upload_record **out, size_t *count);
/* store_sqlite_rates.c */
store_status sqlite_store_rate_counts_exchange(sqlite_store *s, int64_t epoch, int64_t window,
                                               const rate_count *own, size_t own_count, rate_count **others,
                                               size_t *others_count);

/* Writers of this process take this lock around every write transaction, so that they queue without
 * sleeping in SQLite's busy handler (the busy timeout still covers other processes). */
extern pthread_mutex_t store_process_writer;

/* Logs SQLite's last error for `what`; returns STORE_ERROR. */
store_status sql_fail(sqlite_store *s, const char *what);
/* Runs SQL text (no results); STORE_OK or STORE_ERROR (logged). */
store_status sql_exec(sqlite_store *s, const char *sql, const char *what);
/* Prepares one statement; the caller finalizes it. */
store_status sql_prepare(sqlite_store *s, const char *sql, sqlite3_stmt **out);
/* Copies a text column into a fixed buffer ("" for NULL), truncating. */
void sql_copy_text(char *out, size_t size, sqlite3_stmt *stmt, int column);
/* A malloc'd copy of a text column, or NULL for NULL. */
char *sql_dup_text(sqlite3_stmt *stmt, int column);
void sql_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text);
/* Resets a kept statement for reuse. */
void sql_release(sqlite3_stmt *stmt);
/* Runs a one-row write under the writer lock; rows changed, -2 on a constraint, -1 on error. Finalizes. */
int sql_run_write(sqlite_store *s, sqlite3_stmt *stmt, const char *what);
/* The same for a kept statement (s->hot[…]): released for reuse (sql_release) instead of finalized. */
int sql_run_kept_write(sqlite_store *s, sqlite3_stmt *stmt, const char *what);

/* Opens a write transaction under the writer lock (BEGIN IMMEDIATE). On failure the lock is released. */
store_status sql_begin(sqlite_store *s, const char *what);
/* The same without waiting: STORE_CONFLICT (nothing done) when another writer of this process holds
 * the lock. */
store_status sql_begin_try(sqlite_store *s, const char *what);
/* Commits when status is STORE_OK (a failed commit becomes STORE_ERROR), otherwise rolls back; then
 * releases the writer lock. Returns the final status. */
store_status sql_end(sqlite_store *s, store_status status, const char *what);

/* Steps stmt (finalized here) and reads every row of TASK_COLUMNS into a malloc'd array (*out NULL when
 * *count is 0; free with task_records_free). */
store_status sqlite_collect_tasks(sqlite_store *s, sqlite3_stmt *stmt, task_record **out, size_t *count,
                                  const char *what);
/* Inserts one task row with the kept statement (inside the caller's transaction); SQLite's result code. */
int sql_task_insert(sqlite_store *s, const task_record *task);

/* Inside a write transaction that just finished task `task_id` (store_credits.c): releases its
 * reservation exactly once — a refund of all of it, or a settlement charging `charge` (clamped to the
 * reservation; -1 = all of it) and returning the rest — moving the key's balances. A task without a
 * reservation is left alone. */
store_status sqlite_store_credits_release_tx(sqlite_store *s, const char *task_id, bool refund,
                                             int64_t charge, int64_t now);
/* Inside the same transaction (store_sqlite.c): queues the task's callback when its parameters carry a
 * callback_url (due at once). */
store_status sqlite_store_callback_queue_tx(sqlite_store *s, const char *task_id, int64_t now);

/* Tells readers of this process that a task changed (bumps its cache version); call after commit. */
void sqlite_store_task_changed(const char *id);

#endif
