/* store_pg_query.c — the query and transaction helpers every PostgreSQL file of store/ uses (declared in
 * pg_internal.h). Every parameter travels as text (integers printed, bytea as \x hex), every result is
 * read as text. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"
#include "util/log.h"

/* SQLSTATE of a unique or exclusion violation: a duplicate id, name or hash. */
#define PG_UNIQUE_VIOLATION "23505"

store_status pg_query(pg_store *s, const char *what, PGresult **out, const char *sql, int count,
                      const char *const *values)
{
    if (out) *out = NULL;
    if (PQstatus(s->conn) == CONNECTION_BAD && !s->in_transaction) {
        PQreset(s->conn);
        if (PQstatus(s->conn) == CONNECTION_OK)
            log_info("reconnected to PostgreSQL", "operation=\"%s\"", what);
        else
            log_error("cannot reconnect to PostgreSQL", "operation=\"%s\" error=\"%s\"", what,
                      PQerrorMessage(s->conn));
    }
    PGresult *result = PQexecParams(s->conn, sql, count, NULL, values, NULL, NULL, 0);
    ExecStatusType outcome = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (outcome == PGRES_COMMAND_OK || outcome == PGRES_TUPLES_OK) {
        if (out)
            *out = result;
        else
            PQclear(result);
        return STORE_OK;
    }
    const char *state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, PG_UNIQUE_VIOLATION) == 0) {
        PQclear(result);
        return STORE_CONFLICT;
    }
    const char *message = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    log_error("database error", "operation=\"%s\" sqlstate=%s error=\"%s\"", what, state ? state : "?",
              message ? message : PQerrorMessage(s->conn));
    PQclear(result);
    return STORE_ERROR;
}

int64_t pg_changed(PGresult *result)
{
    const char *tuples = PQcmdTuples(result);
    return tuples && tuples[0] ? strtoll(tuples, NULL, 10) : 0;
}

store_status pg_begin(pg_store *s, const char *what)
{
    store_status status = pg_query(s, what, NULL, "BEGIN", 0, NULL);
    /* A connection the server closed while it sat idle (a restart, an outage) fails its next statement
     * only then: BEGIN changes nothing, so it is sent once more, on the connection pg_query reopens. */
    if (status == STORE_ERROR && PQstatus(s->conn) == CONNECTION_BAD)
        status = pg_query(s, what, NULL, "BEGIN", 0, NULL);
    s->in_transaction = status == STORE_OK;
    return status;
}

store_status pg_end(pg_store *s, store_status status, const char *what)
{
    /* in_transaction stays set until COMMIT or ROLLBACK has run: a COMMIT sent on a reopened connection
     * would "succeed" outside any transaction while the real one was lost */
    if (status == STORE_OK && pg_query(s, what, NULL, "COMMIT", 0, NULL) != STORE_OK) status = STORE_ERROR;
    /* Harmless when the failed COMMIT already ended the transaction (a warning, not an error). */
    if (status != STORE_OK && PQstatus(s->conn) == CONNECTION_OK &&
        PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        pg_query(s, what, NULL, "ROLLBACK", 0, NULL);
    s->in_transaction = false;
    return status;
}

const char *pg_int(pg_number *buffer, int64_t value)
{
    snprintf(buffer->text, sizeof(buffer->text), "%" PRId64, value);
    return buffer->text;
}

const char *pg_bytes(pg_hex *buffer, const unsigned char *bytes, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    if (size > PG_HEX_BYTES) size = PG_HEX_BYTES;
    buffer->text[0] = '\\';
    buffer->text[1] = 'x';
    for (size_t i = 0; i < size; i++) {
        buffer->text[2 + 2 * i] = digits[bytes[i] >> 4];
        buffer->text[3 + 2 * i] = digits[bytes[i] & 15];
    }
    buffer->text[2 + 2 * size] = '\0';
    return buffer->text;
}

int64_t pg_get_int(const PGresult *result, int row, int column)
{
    return PQgetisnull(result, row, column) ? 0 : strtoll(PQgetvalue(result, row, column), NULL, 10);
}

bool pg_get_bool(const PGresult *result, int row, int column)
{
    return !PQgetisnull(result, row, column) && PQgetvalue(result, row, column)[0] == 't';
}

void pg_copy_text(char *out, size_t size, const PGresult *result, int row, int column)
{
    snprintf(out, size, "%s", PQgetisnull(result, row, column) ? "" : PQgetvalue(result, row, column));
}

char *pg_dup_text(const PGresult *result, int row, int column, bool *failed)
{
    if (PQgetisnull(result, row, column)) return NULL;
    char *copy = strdup(PQgetvalue(result, row, column));
    if (copy == NULL) *failed = true;
    return copy;
}
