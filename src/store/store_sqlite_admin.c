/* store_sqlite_admin.c — the SQLite side of what operators read and replace (store.h): a cluster fact
 * read or replaced (the admin token's hash), the summary of tasks by state and model, and each
 * channel's recent activity. The SQL is store_common.h's, shared with PostgreSQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store_common.h"

store_status sqlite_store_fact_get(sqlite_store *s, const char *name, char *value, size_t value_size)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT value FROM cluster_facts WHERE name = ?1", &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) sql_copy_text(value, value_size, stmt, 0);
    sqlite3_finalize(stmt);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : sql_fail(s, "read fact");
}

store_status sqlite_store_fact_set(sqlite_store *s, const char *name, const char *value)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, ADMIN_SQL_FACT_SET("?1", "?2"), &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_TRANSIENT);
    return sql_run_write(s, stmt, "replace fact") == 1 ? STORE_OK : STORE_ERROR;
}

store_status sqlite_store_task_summary(sqlite_store *s, int64_t now, task_summary *out)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, ADMIN_SQL_TASK_SUMMARY("?1", "?2"), &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, now - 60);
    sqlite3_bind_int64(stmt, 2, now - 3600);
    int rc = SQLITE_DONE;
    bool fits = true;
    while (fits && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const unsigned char *model = sqlite3_column_text(stmt, 0);
        fits = task_summary_add(out, model ? (const char *)model : "", sqlite3_column_int(stmt, 1),
                                sqlite3_column_int64(stmt, 2));
        out->finished_last_minute += sqlite3_column_int64(stmt, 3);
        out->finished_last_hour += sqlite3_column_int64(stmt, 4);
    }
    sqlite3_finalize(stmt);
    if (fits && rc == SQLITE_DONE) return STORE_OK;
    free(out->models);
    memset(out, 0, sizeof(*out));
    return fits ? sql_fail(s, "summarise tasks") : STORE_ERROR;
}

store_status sqlite_store_channel_activity(sqlite_store *s, int64_t since, channel_activity **out,
                                           size_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, ADMIN_SQL_CHANNEL_ACTIVITY("?1"), &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_int64(stmt, 1, since);
    channel_activity *rows = NULL;
    size_t used = 0;
    int rc = SQLITE_DONE;
    bool fits = true;
    while (fits && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        channel_activity *grown = realloc(rows, (used + 1) * sizeof(*grown));
        if (grown == NULL) {
            fits = false;
            break;
        }
        rows = grown;
        channel_activity *row = &rows[used++];
        sql_copy_text(row->channel, sizeof(row->channel), stmt, 0);
        row->in_flight = sqlite3_column_int64(stmt, 1);
        row->completed = sqlite3_column_int64(stmt, 2);
        row->failed = sqlite3_column_int64(stmt, 3);
        row->median_seconds = sqlite3_column_int64(stmt, 4);
    }
    sqlite3_finalize(stmt);
    if (fits && rc == SQLITE_DONE) {
        *out = rows;
        *count = used;
        return STORE_OK;
    }
    free(rows);
    return fits ? sql_fail(s, "read channel activity") : STORE_ERROR;
}
