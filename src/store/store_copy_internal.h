/* store_copy_internal.h — what store_copy_into (store_copy.c) asks of each backend: a table is a list
 * of typed columns both schemas share; a backend reads a table's rows in order inside a read snapshot
 * (store_copy_sqlite.c, store_copy_pg.c) and inserts rows of the same shape inside a write transaction.
 * Values travel typed (a whole number, text, a boolean, bytes), never as one backend's text form, so
 * SQLite's REAL or 0/1 columns and PostgreSQL's BIGINT, BOOLEAN or BYTEA meet in the middle. Internal to
 * store/. */
#ifndef REELAY_STORE_STORE_COPY_INTERNAL_H
#define REELAY_STORE_STORE_COPY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/pg_internal.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

typedef enum { COPY_INT, COPY_TEXT, COPY_BOOL, COPY_BYTES } copy_type;

typedef struct copy_column {
    const char *name;
    copy_type type;
} copy_column;

#define COPY_MAX_COLUMNS 20
#define COPY_MAX_BYTES 64 /* the longest COPY_BYTES value (hashes are 32) */

typedef struct copy_table {
    const char *name;
    const char *sqlite_order, *pg_order; /* ORDER BY of the read: insertion order where there is one */
    const copy_column *columns;
    size_t column_count;
    bool keep_existing; /* ON CONFLICT DO NOTHING, and `to` may already hold rows (cluster facts) */
} copy_table;

typedef struct copy_value {
    bool null;
    int64_t number;    /* COPY_INT; COPY_BOOL as 0 or 1 */
    const char *bytes; /* COPY_TEXT (NUL-terminated) and COPY_BYTES; valid during the row's callback */
    size_t size;       /* of bytes */
} copy_value;

/* Called for each row read, in order; a status other than OK stops the read and is returned. */
typedef store_status (*copy_row_fn)(void *context, const copy_value *row);

/* The backend of a connection (store.c): exactly one of *sqlite and *pg is set. */
void store_backend_of(store *s, sqlite_store **sqlite, pg_store **pg);

/* The INSERT of one row of `table` ("INSERT INTO t (a, b) VALUES ($1, $2)", SQLite reads $N as well),
 * into out (store_copy.c). false when it does not fit. */
bool copy_insert_sql(const copy_table *table, char *out, size_t size);

/* SQLite (store_copy_sqlite.c). A read snapshot (BEGIN … COMMIT, no writer lock) or a write transaction
 * (sql_begin / sql_end); rows of a table to fn; the number of rows of a table; one prepared INSERT per
 * table, run per row. */
store_status sqlite_copy_begin(sqlite_store *s, bool write);
store_status sqlite_copy_end(sqlite_store *s, bool write, store_status status);
store_status sqlite_copy_each_row(sqlite_store *s, const copy_table *table, copy_row_fn fn, void *context);
store_status sqlite_copy_count(sqlite_store *s, const char *table, int64_t *rows);
store_status sqlite_copy_prepare_insert(sqlite_store *s, const copy_table *table, sqlite3_stmt **out);
store_status sqlite_copy_insert(sqlite_store *s, sqlite3_stmt *insert, const copy_table *table,
                                const copy_value *row);

/* PostgreSQL (store_copy_pg.c). A REPEATABLE READ, READ ONLY snapshot or a write transaction; rows read
 * through a cursor a page at a time (never a whole table in memory); one INSERT per row, bytes sent as
 * binary parameters. */
store_status pg_copy_begin(pg_store *s, bool write);
store_status pg_copy_end(pg_store *s, store_status status);
store_status pg_copy_each_row(pg_store *s, const copy_table *table, copy_row_fn fn, void *context);
store_status pg_copy_count(pg_store *s, const char *table, int64_t *rows);
store_status pg_copy_insert(pg_store *s, const char *insert_sql, const copy_table *table,
                            const copy_value *row);

#endif
