/* store_callbacks.c — the callback outbox (SQLite): due deliveries are claimed by the sender with a
 * lease, and each attempt's outcome is recorded. Rows are queued by the transaction that finishes a
 * task (sqlite_store_callback_queue_tx in store_sqlite.c); nothing here knows HTTP. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"

static void read_record(sqlite3_stmt *stmt, callback_record *out)
{
    memset(out, 0, sizeof(*out));
    sql_copy_text(out->task_id, sizeof(out->task_id), stmt, 0);
    sql_copy_text(out->key_id, sizeof(out->key_id), stmt, 1);
    sql_copy_text(out->url, sizeof(out->url), stmt, 2);
    out->attempts = sqlite3_column_int(stmt, 3);
    out->next_at_ms = sqlite3_column_int64(stmt, 4);
}

store_status sqlite_store_callbacks_claim_due(sqlite_store *s, int64_t now_ms, int64_t lease_until_ms,
                                              size_t limit, callback_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (limit == 0) return STORE_OK;
    callback_record *records = calloc(limit, sizeof(*records));
    if (records == NULL) return STORE_ERROR;
    if (sql_begin(s, "claim callbacks") != STORE_OK) {
        free(records);
        return STORE_ERROR;
    }
    sqlite3_stmt *select = NULL, *claim = NULL;
    store_status status = sql_prepare(s,
                                      "SELECT task_id, key_id, url, attempts, next_at FROM callbacks "
                                      "WHERE state = 0 AND next_at <= ?1 ORDER BY next_at, task_id LIMIT ?2",
                                      &select);
    if (status == STORE_OK)
        status = sql_prepare(s,
                             "UPDATE callbacks SET attempts = attempts + 1, next_at = ?2, updated_at = ?3 "
                             "WHERE task_id = ?1 AND state = 0",
                             &claim);
    size_t found = 0;
    if (status == STORE_OK) {
        sqlite3_bind_int64(select, 1, now_ms);
        sqlite3_bind_int64(select, 2, limit > INT32_MAX ? INT32_MAX : (int64_t)limit);
        int rc = SQLITE_DONE;
        while (found < limit && (rc = sqlite3_step(select)) == SQLITE_ROW)
            read_record(select, &records[found++]);
        if (found < limit && rc != SQLITE_DONE) status = sql_fail(s, "read due callbacks");
    }
    for (size_t i = 0; status == STORE_OK && i < found; i++) {
        sqlite3_bind_text(claim, 1, records[i].task_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(claim, 2, lease_until_ms);
        sqlite3_bind_int64(claim, 3, now_ms / 1000);
        if (sqlite3_step(claim) != SQLITE_DONE)
            status = sql_fail(s, "claim callback");
        else if (sqlite3_changes(s->db) != 1)
            status = STORE_ERROR; /* read in this transaction: cannot be */
        sql_release(claim);
        records[i].attempts++;
        records[i].next_at_ms = lease_until_ms;
    }
    sqlite3_finalize(select);
    sqlite3_finalize(claim);
    status = sql_end(s, status, "claim callbacks");
    if (status != STORE_OK || found == 0) {
        free(records);
        return status;
    }
    *out = records;
    *count = found;
    return STORE_OK;
}

store_status sqlite_store_callback_finish_attempt(sqlite_store *s, const char *task_id, int attempt,
                                                  callback_state state, int http_status, const char *error,
                                                  int64_t next_at_ms, int64_t now_ms)
{
    sqlite3_stmt *stmt = NULL;
    /* next_at keeps its lease value for a finished callback: only due rows are ever read by it */
    if (sql_prepare(s,
                    "UPDATE callbacks SET state = ?2, last_status = ?3, last_error = ?4, "
                    "next_at = CASE WHEN ?2 = 0 THEN ?5 ELSE next_at END, updated_at = ?6 "
                    "WHERE task_id = ?1 AND state = 0 AND attempts = ?7",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, task_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 2, (int)state);
    sqlite3_bind_int(stmt, 3, http_status);
    sqlite3_bind_text(stmt, 4, error ? error : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 5, next_at_ms);
    sqlite3_bind_int64(stmt, 6, now_ms / 1000);
    sqlite3_bind_int(stmt, 7, attempt);
    int changed = sql_run_write(s, stmt, "finish callback attempt");
    if (changed < 0) return STORE_ERROR;
    if (changed == 1) return STORE_OK;
    callback_delivery current;
    store_status found = sqlite_store_callback_get(s, task_id, &current);
    return found == STORE_OK ? STORE_CONFLICT : found;
}

store_status sqlite_store_callbacks_next_due(sqlite_store *s, int64_t *next_at_ms)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT MIN(next_at) FROM callbacks WHERE state = 0", &stmt) != STORE_OK)
        return STORE_ERROR;
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
        *next_at_ms = sqlite3_column_int64(stmt, 0);
        status = STORE_OK;
    } else if (rc != SQLITE_ROW) {
        status = sql_fail(s, "next due callback");
    }
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_store_callback_get(sqlite_store *s, const char *task_id, callback_delivery *out)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT task_id, key_id, url, attempts, next_at, state, last_status, last_error, "
                    "updated_at FROM callbacks WHERE task_id = ?1",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, task_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    store_status status = STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        read_record(stmt, &out->record);
        out->state = (callback_state)sqlite3_column_int(stmt, 5);
        out->last_status = sqlite3_column_int(stmt, 6);
        sql_copy_text(out->last_error, sizeof(out->last_error), stmt, 7);
        out->updated_at = sqlite3_column_int64(stmt, 8);
        status = STORE_OK;
    } else if (rc != SQLITE_DONE) {
        status = sql_fail(s, "read callback");
    }
    sqlite3_finalize(stmt);
    return status;
}
