/* store_copy_pg.c — PostgreSQL's half of store_copy_into (store_copy_internal.h): reading a table's rows
 * typed through a cursor, a page at a time, and inserting them (bytes as binary parameters). */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store_copy_internal.h"
#include "util/log.h"

/* Rows fetched from the cursor at a time. */
#define COPY_PAGE_ROWS "500"

store_status pg_copy_begin(pg_store *s, bool write)
{
    if (write) return pg_begin(s, "begin copy");
    /* one snapshot for every table read (the copy is consistent even while nodes still write) */
    store_status status =
        pg_query(s, "begin copy read", NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL);
    s->in_transaction = status == STORE_OK;
    return status;
}

store_status pg_copy_end(pg_store *s, store_status status)
{
    return pg_end(s, status, "end copy");
}

/* One field of a fetched row into *value; bytea arrives as hex (encode(…, 'hex')) and is decoded into
 * scratch (COPY_MAX_BYTES). */
static store_status read_value(const PGresult *page, int row, int column, copy_type type,
                               unsigned char *scratch, copy_value *value)
{
    memset(value, 0, sizeof(*value));
    value->null = PQgetisnull(page, row, column);
    if (value->null) return STORE_OK;
    const char *text = PQgetvalue(page, row, column);
    size_t length = (size_t)PQgetlength(page, row, column);
    switch (type) {
    case COPY_INT:
        value->number = strtoll(text, NULL, 10);
        break;
    case COPY_BOOL:
        value->number = text[0] == 't';
        break;
    case COPY_TEXT:
        value->bytes = text;
        value->size = length;
        break;
    case COPY_BYTES:
        if (sodium_hex2bin(scratch, COPY_MAX_BYTES, text, length, NULL, &value->size, NULL) != 0) {
            log_error("database error", "operation=\"copy read\" error=\"a binary value is too long\"");
            return STORE_ERROR;
        }
        value->bytes = (const char *)scratch;
        break;
    }
    return STORE_OK;
}

/* The cursor's SELECT of every column of table (bytea as hex), in its order. false when it does not fit. */
static bool select_sql(const copy_table *table, char *sql, size_t size)
{
    size_t length = (size_t)snprintf(sql, size, "DECLARE reelay_copy NO SCROLL CURSOR FOR SELECT ");
    for (size_t i = 0; i < table->column_count && length < size; i++) {
        const copy_column *column = &table->columns[i];
        length += (size_t)snprintf(sql + length, size - length,
                                   column->type == COPY_BYTES ? "%sencode(%s, 'hex')" : "%s%s", i ? ", " : "",
                                   column->name);
    }
    if (length < size)
        length += (size_t)snprintf(sql + length, size - length, " FROM %s ORDER BY %s", table->name,
                                   table->pg_order);
    return length < size;
}

store_status pg_copy_each_row(pg_store *s, const copy_table *table, copy_row_fn fn, void *context)
{
    char sql[2048];
    if (!select_sql(table, sql, sizeof(sql))) return STORE_ERROR;
    store_status status = pg_query(s, "copy read", NULL, sql, 0, NULL);
    unsigned char scratch[COPY_MAX_COLUMNS][COPY_MAX_BYTES];
    copy_value row[COPY_MAX_COLUMNS];
    for (bool more = status == STORE_OK; more;) {
        PGresult *page = NULL;
        status = pg_query(s, "copy read", &page, "FETCH " COPY_PAGE_ROWS " FROM reelay_copy", 0, NULL);
        int rows = status == STORE_OK ? PQntuples(page) : 0;
        for (int r = 0; r < rows && status == STORE_OK; r++) {
            for (size_t i = 0; i < table->column_count && status == STORE_OK; i++)
                status = read_value(page, r, (int)i, table->columns[i].type, scratch[i], &row[i]);
            if (status == STORE_OK) status = fn(context, row);
        }
        PQclear(page);
        more = status == STORE_OK && rows > 0;
    }
    if (status == STORE_OK) status = pg_query(s, "copy read", NULL, "CLOSE reelay_copy", 0, NULL);
    return status;
}

store_status pg_copy_count(pg_store *s, const char *table, int64_t *rows)
{
    char sql[128];
    if (snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table) >= (int)sizeof(sql)) return STORE_ERROR;
    PGresult *result = NULL;
    if (pg_query(s, "copy count", &result, sql, 0, NULL) != STORE_OK) return STORE_ERROR;
    *rows = pg_get_int(result, 0, 0);
    PQclear(result);
    return STORE_OK;
}

store_status pg_copy_insert(pg_store *s, const char *insert_sql, const copy_table *table,
                            const copy_value *row)
{
    const char *values[COPY_MAX_COLUMNS];
    int lengths[COPY_MAX_COLUMNS], formats[COPY_MAX_COLUMNS];
    pg_number numbers[COPY_MAX_COLUMNS];
    for (size_t i = 0; i < table->column_count; i++) {
        const copy_value *value = &row[i];
        copy_type type = table->columns[i].type;
        lengths[i] = (int)value->size;
        formats[i] = type == COPY_BYTES; /* bytea as binary: no escaping */
        if (value->null)
            values[i] = NULL;
        else if (type == COPY_TEXT || type == COPY_BYTES)
            values[i] = value->bytes;
        else if (type == COPY_BOOL)
            values[i] = value->number ? "t" : "f";
        else
            values[i] = pg_int(&numbers[i], value->number);
    }
    PGresult *result =
        PQexecParams(s->conn, insert_sql, (int)table->column_count, NULL, values, lengths, formats, 0);
    if (result != NULL && PQresultStatus(result) == PGRES_COMMAND_OK) {
        PQclear(result);
        return STORE_OK;
    }
    const char *message = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    log_error("database error", "operation=\"copy %s\" error=\"%s\"", table->name,
              message ? message : PQerrorMessage(s->conn));
    PQclear(result);
    return STORE_ERROR;
}
