/* store_copy_sqlite.c — SQLite's half of store_copy_into (store_copy_internal.h): reading a table's rows
 * typed, and inserting them. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store_copy_internal.h"
#include "util/log.h"

store_status sqlite_copy_begin(sqlite_store *s, bool write)
{
    /* a deferred BEGIN reads one snapshot from its first SELECT on (WAL), without the writer lock */
    return write ? sql_begin(s, "begin copy") : sql_exec(s, "BEGIN", "begin copy read");
}

store_status sqlite_copy_end(sqlite_store *s, bool write, store_status status)
{
    if (write) return sql_end(s, status, "end copy");
    if (sql_exec(s, "COMMIT", "end copy read") != STORE_OK) return STORE_ERROR;
    return status;
}

/* One column of the current row of stmt into *value, by the column's type. */
static void read_value(sqlite3_stmt *stmt, int column, copy_type type, copy_value *value)
{
    memset(value, 0, sizeof(*value));
    value->null = sqlite3_column_type(stmt, column) == SQLITE_NULL;
    if (value->null) return;
    switch (type) {
    case COPY_INT: /* credits_reserved is REAL on SQLite; whole numbers always */
        value->number = sqlite3_column_int64(stmt, column);
        break;
    case COPY_BOOL:
        value->number = sqlite3_column_int64(stmt, column) != 0;
        break;
    case COPY_TEXT:
        value->bytes = (const char *)sqlite3_column_text(stmt, column);
        value->size = (size_t)sqlite3_column_bytes(stmt, column);
        value->null = value->bytes == NULL;
        break;
    case COPY_BYTES:
        value->bytes = sqlite3_column_blob(stmt, column);
        value->size = (size_t)sqlite3_column_bytes(stmt, column);
        if (value->bytes == NULL) value->bytes = "";
        break;
    }
}

store_status sqlite_copy_each_row(sqlite_store *s, const copy_table *table, copy_row_fn fn, void *context)
{
    char sql[2048];
    size_t length = (size_t)snprintf(sql, sizeof(sql), "SELECT ");
    for (size_t i = 0; i < table->column_count && length < sizeof(sql); i++)
        length += (size_t)snprintf(sql + length, sizeof(sql) - length, "%s%s", i ? ", " : "",
                                   table->columns[i].name);
    if (length < sizeof(sql))
        length += (size_t)snprintf(sql + length, sizeof(sql) - length, " FROM %s ORDER BY %s", table->name,
                                   table->sqlite_order);
    if (length >= sizeof(sql)) return STORE_ERROR;
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, sql, &stmt) != STORE_OK) return STORE_ERROR;
    copy_value row[COPY_MAX_COLUMNS];
    store_status status = STORE_OK;
    int step;
    while (status == STORE_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        for (size_t i = 0; i < table->column_count; i++)
            read_value(stmt, (int)i, table->columns[i].type, &row[i]);
        status = fn(context, row);
    }
    if (status == STORE_OK && step != SQLITE_DONE) status = sql_fail(s, "copy read");
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_copy_count(sqlite_store *s, const char *table, int64_t *rows)
{
    char sql[128];
    if (snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table) >= (int)sizeof(sql)) return STORE_ERROR;
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, sql, &stmt) != STORE_OK) return STORE_ERROR;
    store_status status = STORE_OK;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *rows = sqlite3_column_int64(stmt, 0);
    else
        status = sql_fail(s, "copy count");
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_copy_prepare_insert(sqlite_store *s, const copy_table *table, sqlite3_stmt **out)
{
    char sql[2048];
    if (!copy_insert_sql(table, sql, sizeof(sql))) return STORE_ERROR;
    return sql_prepare(s, sql, out);
}

store_status sqlite_copy_insert(sqlite_store *s, sqlite3_stmt *insert, const copy_table *table,
                                const copy_value *row)
{
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
    int bound = SQLITE_OK;
    for (size_t i = 0; i < table->column_count && bound == SQLITE_OK; i++) {
        const copy_value *value = &row[i];
        int index = (int)i + 1;
        if (value->null)
            bound = sqlite3_bind_null(insert, index);
        else if (table->columns[i].type == COPY_TEXT)
            bound = sqlite3_bind_text(insert, index, value->bytes, (int)value->size, SQLITE_TRANSIENT);
        else if (table->columns[i].type == COPY_BYTES)
            bound = sqlite3_bind_blob(insert, index, value->bytes, (int)value->size, SQLITE_TRANSIENT);
        else
            bound = sqlite3_bind_int64(insert, index, value->number);
    }
    if (bound != SQLITE_OK || sqlite3_step(insert) != SQLITE_DONE) {
        log_error("database error", "operation=\"copy %s\" error=\"%s\"", table->name, sqlite3_errmsg(s->db));
        return STORE_ERROR;
    }
    return STORE_OK;
}
