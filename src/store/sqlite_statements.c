/* sqlite_statements.c — the small statement and transaction helpers every SQLite file of store/ uses
 * (declared in sqlite_internal.h). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "util/log.h"

store_status sql_fail(sqlite_store *s, const char *what)
{
    log_error("database error", "operation=\"%s\" error=\"%s\"", what, sqlite3_errmsg(s->db));
    return STORE_ERROR;
}

store_status sql_exec(sqlite_store *s, const char *sql, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &message) == SQLITE_OK) return STORE_OK;
    log_error("database error", "operation=\"%s\" error=\"%s\"", what, message ? message : "?");
    sqlite3_free(message);
    return STORE_ERROR;
}

/* Steps a kept statement that returns no rows (BEGIN, COMMIT) and releases it; STORE_ERROR is logged. */
static store_status run_kept(sqlite_store *s, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_DONE ? STORE_OK : sql_fail(s, what);
    sql_release(stmt);
    return status;
}

store_status sql_begin(sqlite_store *s, const char *what)
{
    pthread_mutex_lock(&store_process_writer);
    store_status status = run_kept(s, s->hot[STMT_BEGIN_IMMEDIATE], what);
    if (status != STORE_OK) pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sql_begin_try(sqlite_store *s, const char *what)
{
    if (pthread_mutex_trylock(&store_process_writer) != 0) return STORE_CONFLICT;
    store_status status = run_kept(s, s->hot[STMT_BEGIN_IMMEDIATE], what);
    if (status != STORE_OK) pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sql_end(sqlite_store *s, store_status status, const char *what)
{
    if (status == STORE_OK && run_kept(s, s->hot[STMT_COMMIT], what) != STORE_OK) status = STORE_ERROR;
    /* Only when a transaction is open: a failed COMMIT may already have rolled back. */
    if (status != STORE_OK && !sqlite3_get_autocommit(s->db)) sql_exec(s, "ROLLBACK", what);
    pthread_mutex_unlock(&store_process_writer);
    return status;
}

store_status sql_prepare(sqlite_store *s, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, out, NULL) != SQLITE_OK) return sql_fail(s, "prepare");
    return STORE_OK;
}

void sql_copy_text(char *out, size_t size, sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

char *sql_dup_text(sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    return text ? strdup((const char *)text) : NULL;
}

void sql_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

/* Releases a hot statement for reuse. */
void sql_release(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

/* Steps a one-row write under the process writer lock; rows changed, -2 on a constraint, -1 on error
 * (logged). Neither finalizes nor resets stmt. */
static int step_write(sqlite_store *s, sqlite3_stmt *stmt, const char *what)
{
    pthread_mutex_lock(&store_process_writer);
    int rc = sqlite3_step(stmt);
    int changed = rc == SQLITE_DONE ? sqlite3_changes(s->db) : -1;
    pthread_mutex_unlock(&store_process_writer);
    if (rc == SQLITE_CONSTRAINT)
        changed = -2;
    else if (rc != SQLITE_DONE)
        sql_fail(s, what);
    return changed;
}

int sql_run_write(sqlite_store *s, sqlite3_stmt *stmt, const char *what)
{
    int changed = step_write(s, stmt, what);
    sqlite3_finalize(stmt);
    return changed;
}

int sql_run_kept_write(sqlite_store *s, sqlite3_stmt *stmt, const char *what)
{
    int changed = step_write(s, stmt, what);
    sql_release(stmt);
    return changed;
}
