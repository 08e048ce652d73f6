/* store_tasks.c — tasks in SQLite (store.h): insert (one or a batch), read through the per-connection
 * cache, list, every compare-and-set transition, finishing ones with their credits and callback in one
 * transaction, and deleting a finished task with its idempotency keys and callback. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/vector.h"

/* Task reads on the poll path are served from a small per-connection cache of records. An entry is
 * valid while the version of its task's slot is unchanged; every task write of this process bumps
 * that version after it commits, and a reader takes the version before it reads the row, so a
 * stale entry can never look current. Slots are shared by ids with the same hash: a collision only
 * costs a re-read. (All task writers are in this process: the command line writes no tasks.) */
enum { TASK_VERSION_SLOTS = 1 << 16 };
static _Atomic uint64_t task_versions[TASK_VERSION_SLOTS];

static size_t task_slot(const char *id)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        hash = (hash ^ *p) * 16777619u;
    return hash % TASK_VERSION_SLOTS;
}

void sqlite_store_task_changed(const char *id)
{
    atomic_fetch_add_explicit(&task_versions[task_slot(id)], 1, memory_order_release);
}

/* ---- tasks ---- */

static void read_task(sqlite3_stmt *stmt, task_record *t)
{
    memset(t, 0, sizeof(*t));
    sql_copy_text(t->id, sizeof(t->id), stmt, 0);
    sql_copy_text(t->key_id, sizeof(t->key_id), stmt, 1);
    sql_copy_text(t->model, sizeof(t->model), stmt, 2);
    t->state = (task_state)sqlite3_column_int(stmt, 3);
    t->progress = sqlite3_column_int(stmt, 4);
    t->created_at = sqlite3_column_int64(stmt, 5);
    t->updated_at = sqlite3_column_int64(stmt, 6);
    t->deadline_at = sqlite3_column_int64(stmt, 7);
    t->completed_at = sqlite3_column_int64(stmt, 8);
    sql_copy_text(t->channel, sizeof(t->channel), stmt, 9);
    sql_copy_text(t->user_group, sizeof(t->user_group), stmt, 10);
    t->credits_reserved = sqlite3_column_int64(stmt, 11); /* a REAL column holding whole numbers */
    t->params_json = sql_dup_text(stmt, 12);
    t->results_json = sql_dup_text(stmt, 13);
    sql_copy_text(t->error_code, sizeof(t->error_code), stmt, 14);
    t->error_message = sql_dup_text(stmt, 15);
    t->upstream_json = sql_dup_text(stmt, 16);
    t->billing_json = sql_dup_text(stmt, 17);
    sql_copy_text(t->remixed_from, sizeof(t->remixed_from), stmt, 18);
}

int sql_task_insert(sqlite_store *s, const task_record *t)
{
    sqlite3_stmt *stmt = s->hot[STMT_TASK_INSERT];
    sqlite3_bind_text(stmt, 1, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, t->key_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, t->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, (int)t->state);
    sqlite3_bind_int(stmt, 5, t->progress);
    sqlite3_bind_int64(stmt, 6, t->created_at);
    sqlite3_bind_int64(stmt, 7, t->updated_at);
    sqlite3_bind_int64(stmt, 8, t->deadline_at);
    sqlite3_bind_int64(stmt, 9, t->completed_at);
    sqlite3_bind_text(stmt, 10, t->channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 11, t->user_group[0] ? t->user_group : "default", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 12, t->credits_reserved);
    sql_bind_text_or_null(stmt, 13, t->params_json);
    sql_bind_text_or_null(stmt, 14, t->results_json);
    sqlite3_bind_text(stmt, 15, t->error_code, -1, SQLITE_STATIC);
    sql_bind_text_or_null(stmt, 16, t->error_message);
    sql_bind_text_or_null(stmt, 17, t->upstream_json);
    sql_bind_text_or_null(stmt, 18, t->billing_json);
    sqlite3_bind_text(stmt, 19, t->remixed_from, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 20, s->lease_epoch);
    int rc = sqlite3_step(stmt);
    sql_release(stmt);
    return rc;
}

store_status sqlite_store_task_insert(sqlite_store *s, const task_record *t)
{
    pthread_mutex_lock(&store_process_writer);
    int rc = sql_task_insert(s, t);
    pthread_mutex_unlock(&store_process_writer);
    store_status status = rc == SQLITE_DONE         ? STORE_OK
                          : rc == SQLITE_CONSTRAINT ? STORE_CONFLICT
                                                    : STORE_ERROR;
    if (status == STORE_ERROR) sql_fail(s, "insert task");
    return status;
}

store_status sqlite_store_task_insert_batch(sqlite_store *s, const task_record *tasks, size_t count)
{
    if (count == 0) return STORE_OK;
    if (count == 1) return sqlite_store_task_insert(s, &tasks[0]);
    pthread_mutex_lock(&store_process_writer);
    store_status status = sql_exec(s, "BEGIN IMMEDIATE", "begin task batch");
    int rc = SQLITE_DONE;
    for (size_t i = 0; status == STORE_OK && i < count; i++) {
        rc = sql_task_insert(s, &tasks[i]);
        if (rc != SQLITE_DONE)
            status = rc == SQLITE_CONSTRAINT ? STORE_CONFLICT : sql_fail(s, "insert task batch");
    }
    if (status == STORE_OK) status = sql_exec(s, "COMMIT", "commit task batch");
    /* Only when a transaction is open: BEGIN may have failed, or a failed COMMIT already rolled back. */
    if (status != STORE_OK && !sqlite3_get_autocommit(s->db)) sql_exec(s, "ROLLBACK", "roll back task batch");
    pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sqlite_store_task_get(sqlite_store *s, const char *id, task_record *out)
{
    size_t slot = task_slot(id);
    uint64_t version = atomic_load_explicit(&task_versions[slot], memory_order_acquire);
    task_cache_entry *entry = &s->task_cache[slot % TASK_CACHE_ENTRIES];
    if (entry->used && entry->version == version && strcmp(entry->task.id, id) == 0 &&
        task_record_copy(out, &entry->task))
        return STORE_OK;
    sqlite3_stmt *stmt = s->hot[STMT_TASK_GET];
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_task(stmt, out);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = sql_fail(s, "get task");
    }
    sql_release(stmt);
    if (status == STORE_OK) {
        if (entry->used) task_record_clear(&entry->task);
        entry->used = task_record_copy(&entry->task, out);
        entry->version = version;
    }
    return status;
}

/* Collects every row of a task query into a malloc'd array. */
store_status sqlite_collect_tasks(sqlite_store *s, sqlite3_stmt *stmt, task_record **out, size_t *count,
                                  const char *what)
{
    vector rows;
    vector_init(&rows, sizeof(task_record));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        task_record *row = vector_push(&rows, NULL);
        if (row == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_task(stmt, row);
    }
    sqlite3_finalize(stmt);
    *out = vector_release(&rows, count);
    if (rc != SQLITE_DONE) {
        task_records_free(*out, *count);
        *out = NULL;
        *count = 0;
        return sql_fail(s, what);
    }
    return STORE_OK;
}

store_status sqlite_store_task_list(sqlite_store *s, const task_list_query *query, task_record **out,
                                    size_t *count, bool *has_more)
{
    *out = NULL;
    *count = 0;
    *has_more = false;
    int limit = query->limit < 1 ? 1 : query->limit > 100 ? 100 : query->limit;
    /* Newest first: by creation second, then by insertion order (seq) within a second. Without a cursor
     * the bound is past every row, so one statement (and one index range) serves both cases. */
    int64_t after_created = query->oldest_first ? INT64_MIN : INT64_MAX, after_row = after_created;
    if (query->after_id) {
        sqlite3_stmt *cursor = NULL;
        if (sql_prepare(s, "SELECT created_at, seq, key_id FROM tasks WHERE id = ?", &cursor) != STORE_OK)
            return STORE_ERROR;
        sqlite3_bind_text(cursor, 1, query->after_id, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(cursor);
        bool mine =
            rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(cursor, 2), query->key_id) == 0;
        if (mine) {
            after_created = sqlite3_column_int64(cursor, 0);
            after_row = sqlite3_column_int64(cursor, 1);
        }
        sqlite3_finalize(cursor);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(s, "task list cursor");
        if (!mine) return STORE_NOT_FOUND;
    }
    sqlite3_stmt *stmt = NULL;
    static const char newest_first[] =
        "SELECT " TASK_COLUMNS " FROM tasks WHERE key_id = ?1 AND (created_at, seq) < (?2, ?3)"
        " AND (?4 < 0 OR state = ?4) AND (?5 IS NULL OR model = ?5)"
        " ORDER BY created_at DESC, seq DESC LIMIT ?6";
    static const char oldest_first[] =
        "SELECT " TASK_COLUMNS " FROM tasks WHERE key_id = ?1 AND (created_at, seq) > (?2, ?3)"
        " AND (?4 < 0 OR state = ?4) AND (?5 IS NULL OR model = ?5)"
        " ORDER BY created_at ASC, seq ASC LIMIT ?6";
    if (sql_prepare(s, query->oldest_first ? oldest_first : newest_first, &stmt) != STORE_OK)
        return STORE_ERROR;
    int bound = sqlite3_bind_text(stmt, 1, query->key_id, -1, SQLITE_TRANSIENT);
    bound |= sqlite3_bind_int64(stmt, 2, after_created);
    bound |= sqlite3_bind_int64(stmt, 3, after_row);
    bound |= sqlite3_bind_int(stmt, 4, query->state);
    if (query->model) bound |= sqlite3_bind_text(stmt, 5, query->model, -1, SQLITE_TRANSIENT);
    bound |= sqlite3_bind_int(stmt, 6, limit + 1);
    if (bound != SQLITE_OK) {
        sql_fail(s, "bind task list");
        sqlite3_finalize(stmt);
        return STORE_ERROR;
    }
    store_status status = sqlite_collect_tasks(s, stmt, out, count, "list tasks");
    if (status == STORE_OK && *count > (size_t)limit) {
        task_record_clear(&(*out)[limit]);
        *count = (size_t)limit;
        *has_more = true;
    }
    return status;
}

/* Tells NOT_FOUND from CONFLICT after a compare-and-set changed nothing. */
static store_status explain_no_change(sqlite_store *s, const char *id)
{
    task_record current;
    store_status status = sqlite_store_task_get(s, id, &current);
    if (status != STORE_OK) return status;
    task_record_clear(&current);
    return STORE_CONFLICT;
}

/* Runs a kept compare-and-set statement (released here) and says how it went. */
static store_status finish_cas(sqlite_store *s, sqlite3_stmt *stmt, const char *id, const char *what)
{
    int changed = sql_run_kept_write(s, stmt, what);
    if (changed == 1) {
        sqlite_store_task_changed(id);
        return STORE_OK;
    }
    if (changed == 0) return explain_no_change(s, id);
    return STORE_ERROR;
}

store_status sqlite_store_task_transition(sqlite_store *s, const char *id, task_state from, task_state to,
                                          const char *channel, int64_t now)
{
    if (from == to) return STORE_ERROR;
    return sqlite_store_task_set_upstream(s, id, from, to, channel, NULL, now);
}

/* The kept set-upstream compare-and-set, bound (the caller steps and releases it). */
static sqlite3_stmt *set_upstream_statement(sqlite_store *s, const char *id, task_state from, task_state to,
                                            const char *channel, const char *upstream_json, int64_t now)
{
    sqlite3_stmt *stmt = s->hot[STMT_TASK_SET_UPSTREAM];
    sqlite3_bind_int(stmt, 1, (int)to);
    sqlite3_bind_int64(stmt, 2, now);
    sql_bind_text_or_null(stmt, 3, channel);
    sqlite3_bind_text(stmt, 4, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, (int)from);
    sql_bind_text_or_null(stmt, 6, upstream_json);
    sqlite3_bind_int64(stmt, 7, s->lease_epoch);
    return stmt;
}

store_status sqlite_store_task_set_upstream(sqlite_store *s, const char *id, task_state from, task_state to,
                                            const char *channel, const char *upstream_json, int64_t now)
{
    if (task_state_is_terminal(to) || task_state_is_terminal(from)) return STORE_ERROR;
    sqlite3_stmt *stmt = set_upstream_statement(s, id, from, to, channel, upstream_json, now);
    return finish_cas(s, stmt, id, "transition task");
}

/* Inside a write transaction: the tasks other than `id` occupying `channel` (submitting or processing). */
static store_status count_channel_occupants(sqlite_store *s, const char *channel, const char *id,
                                            int64_t *occupied)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT COUNT(*) FROM tasks WHERE channel = ?1 AND state IN (1, 2) AND id <> ?2",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, channel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) *occupied = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? STORE_OK : sql_fail(s, "count channel occupants");
}

store_status sqlite_store_task_take_channel_slot(sqlite_store *s, const char *id, task_state from,
                                                 const char *channel, int cap, const char *upstream_json,
                                                 int64_t now, bool *full)
{
    *full = false;
    if (task_state_is_terminal(from) || channel == NULL) return STORE_ERROR;
    if (sql_begin(s, "take channel slot") != STORE_OK) return STORE_ERROR;
    int64_t occupied = 0;
    store_status status = count_channel_occupants(s, channel, id, &occupied);
    int changed = 0;
    if (status == STORE_OK && cap > 0 && occupied >= cap) {
        *full = true;
    } else if (status == STORE_OK) {
        sqlite3_stmt *stmt =
            set_upstream_statement(s, id, from, TASK_SUBMITTING, channel, upstream_json, now);
        status = sqlite3_step(stmt) == SQLITE_DONE ? STORE_OK : sql_fail(s, "take channel slot");
        if (status == STORE_OK) changed = sqlite3_changes(s->db);
        sql_release(stmt);
    }
    status = sql_end(s, status, "take channel slot");
    if (status != STORE_OK) return status;
    if (*full) return STORE_CONFLICT;
    if (changed == 1) {
        sqlite_store_task_changed(id);
        return STORE_OK;
    }
    return explain_no_change(s, id);
}

store_status sqlite_store_task_set_progress(sqlite_store *s, const char *id, int progress, int64_t now)
{
    sqlite3_stmt *stmt = s->hot[STMT_TASK_SET_PROGRESS];
    sqlite3_bind_int(stmt, 1, progress < 0 ? 0 : progress);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_text(stmt, 3, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, s->lease_epoch);
    return finish_cas(s, stmt, id, "task progress");
}

store_status sqlite_store_task_set_results(sqlite_store *s, const char *id, const char *results_json,
                                           int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (results_json == NULL || results_json[0] != '[' ||
        sql_prepare(s, "UPDATE tasks SET results_json = ?1, updated_at = ?2 WHERE id = ?3 AND state = ?4",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, results_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_text(stmt, 3, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 4, TASK_COMPLETED);
    store_status status = finish_cas(s, stmt, id, "task results"); /* resets stmt, as for a kept one */
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_store_callback_queue_tx(sqlite_store *s, const char *task_id, int64_t now)
{
    sqlite3_stmt *stmt = s->hot[STMT_CALLBACK_QUEUE];
    sqlite3_bind_text(stmt, 1, task_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "queue callback");
    sql_release(stmt);
    return status;
}

/* Lets go of a finishing statement: released when it is a kept one, else finalized. */
static void statement_done(sqlite3_stmt *stmt, bool kept)
{
    if (kept)
        sql_release(stmt);
    else
        sqlite3_finalize(stmt);
}

/* Runs a task's finishing compare-and-set (stmt: released when kept, else finalized, here), and when it
 * applies, in the same transaction: the reservation's settlement (charging `charge`, -1 = all of it) or,
 * with `refund`, its full refund; and the callback's queueing. Returns the rows changed (0 or 1), or -1 on
 * error. */
static int finish_task_tx(sqlite_store *s, sqlite3_stmt *stmt, bool kept, const char *id, int64_t charge,
                          bool refund, int64_t now, const char *what)
{
    if (sql_begin(s, what) != STORE_OK) {
        statement_done(stmt, kept);
        return -1;
    }
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_DONE ? STORE_OK : sql_fail(s, what);
    statement_done(stmt, kept);
    int changed = status == STORE_OK ? sqlite3_changes(s->db) : -1;
    if (changed == 1) status = sqlite_store_credits_release_tx(s, id, refund, charge, now);
    if (changed == 1 && status == STORE_OK) status = sqlite_store_callback_queue_tx(s, id, now);
    status = sql_end(s, status, what);
    if (status != STORE_OK) return -1;
    if (changed == 1) sqlite_store_task_changed(id);
    return changed;
}

static store_status finish_in_transaction(sqlite_store *s, sqlite3_stmt *stmt, const char *id, int64_t charge,
                                          int64_t now, const char *what)
{
    int changed = finish_task_tx(s, stmt, true, id, charge, false, now, what);
    if (changed == 1) return STORE_OK;
    if (changed == 0) return explain_no_change(s, id);
    return STORE_ERROR;
}

store_status sqlite_store_task_complete(sqlite_store *s, const char *id, task_state from,
                                        const char *results_json, int64_t credits_charged, int64_t now)
{
    json_error_t error;
    json_t *results = results_json ? json_loads(results_json, 0, &error) : NULL;
    bool usable = json_is_array(results) && json_array_size(results) > 0;
    json_decref(results);
    if (!usable || task_state_is_terminal(from)) {
        log_error(usable ? "refusing to complete from a finished state"
                         : "refusing to complete a task without results",
                  "task=%s", id);
        return STORE_ERROR;
    }
    sqlite3_stmt *stmt = s->hot[STMT_TASK_COMPLETE];
    sqlite3_bind_int(stmt, 1, TASK_COMPLETED);
    sqlite3_bind_text(stmt, 2, results_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, now);
    sqlite3_bind_text(stmt, 4, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, (int)from);
    sqlite3_bind_int64(stmt, 6, s->lease_epoch);
    return finish_in_transaction(s, stmt, id, credits_charged, now, "complete task");
}

/* Any unfinished state → a terminal failure state, optionally only for one key; fenced by `fence` (0 =
 * not fenced: a cancel). */
static store_status finish_unsuccessfully(sqlite_store *s, const char *id, const char *key_id, task_state to,
                                          const char *code, const char *message, int64_t fence, int64_t now)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s,
            "UPDATE tasks SET state = ?1, error_code = ?2, error_message = ?3, completed_at = ?4, "
            "updated_at = ?4 "
            "WHERE id = ?5 AND state < 4 AND (?6 IS NULL OR key_id = ?6) AND (?7 = 0 OR lease_epoch = ?7)",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_int(stmt, 1, (int)to);
    sqlite3_bind_text(stmt, 2, code, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, message, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 4, now);
    sqlite3_bind_text(stmt, 5, id, -1, SQLITE_TRANSIENT);
    sql_bind_text_or_null(stmt, 6, key_id);
    sqlite3_bind_int64(stmt, 7, fence);
    int changed = finish_task_tx(s, stmt, false, id, 0, true, now, "finish task");
    if (changed == 1) return STORE_OK;
    if (changed != 0) return STORE_ERROR;
    task_record current;
    store_status status = sqlite_store_task_get(s, id, &current);
    if (status != STORE_OK) return status;
    bool other_key = key_id != NULL && strcmp(current.key_id, key_id) != 0;
    task_record_clear(&current);
    return other_key ? STORE_NOT_FOUND : STORE_CONFLICT;
}

store_status sqlite_store_task_fail(sqlite_store *s, const char *id, const char *code, const char *message,
                                    int64_t now)
{
    return finish_unsuccessfully(s, id, NULL, TASK_FAILED, code, message, s->lease_epoch, now);
}

store_status sqlite_store_task_cancel(sqlite_store *s, const char *id, const char *key_id, int64_t now)
{
    return finish_unsuccessfully(s, id, key_id, TASK_CANCELLED, "cancelled", "The task was cancelled.", 0,
                                 now);
}

/* Inside a write transaction: the task's row into *out when it is key_id's and finished (OK); NOT_FOUND
 * when there is none or it is another key's, CONFLICT when it is unfinished (*out is then left cleared). */
static store_status read_deletable_task(sqlite_store *s, const char *id, const char *key_id, task_record *out)
{
    sqlite3_stmt *stmt = s->hot[STMT_TASK_GET];
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        read_task(stmt, out);
        status = strcmp(out->key_id, key_id) != 0     ? STORE_NOT_FOUND
                 : task_state_is_terminal(out->state) ? STORE_OK
                                                      : STORE_CONFLICT;
        if (status != STORE_OK) task_record_clear(out);
    } else if (rc != SQLITE_DONE) {
        status = sql_fail(s, "read the task to delete");
    }
    sql_release(stmt);
    return status;
}

/* Inside the same transaction: the task's row, its idempotency keys and its callback go (the ledger
 * stays). */
static store_status delete_task_rows(sqlite_store *s, const char *id, const char *key_id)
{
    static const char *const statements[] = {
        "DELETE FROM tasks WHERE id = ?1 AND key_id = ?2",
        "DELETE FROM idempotency_keys WHERE key_id = ?2 AND task_id = ?1", /* the primary key's prefix */
        "DELETE FROM callbacks WHERE task_id = ?1 AND key_id = ?2",
    };
    for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++) {
        sqlite3_stmt *stmt = NULL;
        if (sql_prepare(s, statements[i], &stmt) != STORE_OK) return STORE_ERROR;
        int rc = sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK) rc = sqlite3_bind_text(stmt, 2, key_id, -1, SQLITE_TRANSIENT);
        if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
        store_status status = rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "delete task");
        sqlite3_finalize(stmt);
        if (status != STORE_OK) return status;
    }
    return STORE_OK;
}

store_status sqlite_store_task_delete(sqlite_store *s, const char *task_id, const char *key_id,
                                      task_record *deleted_out)
{
    if (sql_begin(s, "delete task") != STORE_OK) return STORE_ERROR;
    task_record task;
    memset(&task, 0, sizeof(task));
    store_status status = read_deletable_task(s, task_id, key_id, &task);
    bool read = status == STORE_OK;
    if (read) status = delete_task_rows(s, task_id, key_id);
    status = sql_end(s, status, "delete task"); /* NOT_FOUND and CONFLICT roll back: nothing was written */
    if (status == STORE_OK) {
        /* every connection's cached copy is stale from now on; this connection's entry goes at once */
        sqlite_store_task_changed(task_id);
        task_cache_entry *entry = &s->task_cache[task_slot(task_id) % TASK_CACHE_ENTRIES];
        if (entry->used && strcmp(entry->task.id, task_id) == 0) {
            task_record_clear(&entry->task);
            entry->used = false;
        }
    }
    if (status == STORE_OK && deleted_out != NULL)
        *deleted_out = task;
    else if (read)
        task_record_clear(&task);
    return status;
}

store_status sqlite_store_task_list_unfinished(sqlite_store *s, task_record **out, size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT " TASK_COLUMNS " FROM tasks WHERE state < 4 ORDER BY created_at, seq",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    return sqlite_collect_tasks(s, stmt, out, count, "list unfinished tasks");
}

store_status sqlite_store_task_count_by_state(sqlite_store *s, int64_t counts[TASK_STATE_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * TASK_STATE_COUNT);
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT state, COUNT(*) FROM tasks GROUP BY state", &stmt) != STORE_OK)
        return STORE_ERROR;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int state = sqlite3_column_int(stmt, 0);
        if (state >= 0 && state < TASK_STATE_COUNT) counts[state] = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "count tasks");
}
