/* sqlite_internal.h — what the SQLite files of store/ share: the connection, the process-wide writer
 * lock and small statement helpers. Not part of the module's contract (that is store.h); only the
 * files of store/ include it. Each file owns one area of the schema (tasks in store_tasks.c, keys and
 * channels in store_keys.c, credits in store_credits.c, uploads in store_uploads.c, callbacks in
 * store_callbacks.c); opening and the migrations of every area stay in store_sqlite.c, in one ordered
 * list; the statement helpers below are in sqlite_statements.c. */
#ifndef REELAY_STORE_SQLITE_INTERNAL_H
#define REELAY_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* The columns every key / task read selects, in the order read_key / read_task expect. */
#define KEY_COLUMNS "id, name, user_group, created_at, revoked_at, rpm_limit, max_concurrent"
#define TASK_COLUMNS                                                                                         \
    "id, key_id, model, state, progress, created_at, updated_at, deadline_at, completed_at, channel, "       \
    "user_group, "                                                                                           \
    "credits_reserved, params_json, results_json, error_code, error_message, upstream_json, billing_json"

/* Statements kept prepared on every connection (the request and admission paths). */
enum {
    STMT_KEY_BY_HASH,
    STMT_TASK_GET,
    STMT_TASK_INSERT,
    STMT_KEY_BALANCE, /* store_credits.c */
    STMT_KEY_MOVE_CREDITS,
    STMT_LEDGER_APPEND,
    STMT_IDEMPOTENCY_GET,
    STMT_IDEMPOTENCY_PUT,
    STMT_COUNT
};
enum { TASK_CACHE_ENTRIES = 512 };

typedef struct task_cache_entry {
    task_record task;
    uint64_t version;
    bool used;
} task_cache_entry;

struct store {
    sqlite3 *db;
    sqlite3_stmt *hot[STMT_COUNT];
    task_cache_entry task_cache[TASK_CACHE_ENTRIES];
};

/* Writers of this process take this lock around every write transaction, so that they queue without
 * sleeping in SQLite's busy handler (the busy timeout still covers other processes). */
extern pthread_mutex_t store_process_writer;

/* Logs SQLite's last error for `what`; returns STORE_ERROR. */
store_status sql_fail(store *s, const char *what);
/* Runs SQL text (no results); STORE_OK or STORE_ERROR (logged). */
store_status sql_exec(store *s, const char *sql, const char *what);
/* Prepares one statement; the caller finalizes it. */
store_status sql_prepare(store *s, const char *sql, sqlite3_stmt **out);
/* Copies a text column into a fixed buffer ("" for NULL), truncating. */
void sql_copy_text(char *out, size_t size, sqlite3_stmt *stmt, int column);
/* A malloc'd copy of a text column, or NULL for NULL. */
char *sql_dup_text(sqlite3_stmt *stmt, int column);
void sql_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text);
/* Resets a kept statement for reuse. */
void sql_release(sqlite3_stmt *stmt);
/* Runs a one-row write under the writer lock; rows changed, -2 on a constraint, -1 on error. Finalizes. */
int sql_run_write(store *s, sqlite3_stmt *stmt, const char *what);

/* Opens a write transaction under the writer lock (BEGIN IMMEDIATE). On failure the lock is released. */
store_status sql_begin(store *s, const char *what);
/* The same without waiting: STORE_CONFLICT (nothing done) when another writer of this process holds
 * the lock. */
store_status sql_begin_try(store *s, const char *what);
/* Commits when status is STORE_OK (a failed commit becomes STORE_ERROR), otherwise rolls back; then
 * releases the writer lock. Returns the final status. */
store_status sql_end(store *s, store_status status, const char *what);

/* Inserts one task row with the kept statement (inside the caller's transaction); SQLite's result code. */
int sql_task_insert(store *s, const task_record *task);

/* Inside a write transaction that just finished task `task_id` (store_credits.c): releases its
 * reservation exactly once — a refund of all of it, or a settlement charging `charge` (clamped to the
 * reservation; -1 = all of it) and returning the rest — moving the key's balances. A task without a
 * reservation is left alone. */
store_status store_credits_release_tx(store *s, const char *task_id, bool refund, int64_t charge,
                                      int64_t now);
/* Inside the same transaction (store_sqlite.c): queues the task's callback when its parameters carry a
 * callback_url (due at once). */
store_status store_callback_queue_tx(store *s, const char *task_id, int64_t now);

/* Deep copy of a task record (task_record.c); false when out of memory (out is then cleared). */
bool task_record_copy(task_record *out, const task_record *in);

/* Tells readers of this process that a task changed (bumps its cache version); call after commit. */
void store_task_changed(const char *id);

#endif
