/* store_uploads.c — the uploads table (SQLite): one row per uploaded file, the per-key quota with
 * eviction of the oldest auto_cleanup uploads, and the expiry sweep's take-and-delete.
 *
 * Quota check, eviction and insert share one BEGIN IMMEDIATE transaction under the process writer
 * lock, so two uploads of one key racing for the last free bytes cannot both get in. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "util/vector.h"

#define UPLOAD_COLUMNS                                                                                       \
    "id, key_id, filename, object_name, size, content_type, auto_cleanup, created_at, expires_at"

static void read_upload(sqlite3_stmt *stmt, upload_record *out)
{
    memset(out, 0, sizeof(*out));
    sql_copy_text(out->id, sizeof(out->id), stmt, 0);
    sql_copy_text(out->key_id, sizeof(out->key_id), stmt, 1);
    sql_copy_text(out->filename, sizeof(out->filename), stmt, 2);
    sql_copy_text(out->object_name, sizeof(out->object_name), stmt, 3);
    out->size = sqlite3_column_int64(stmt, 4);
    sql_copy_text(out->content_type, sizeof(out->content_type), stmt, 5);
    out->auto_cleanup = sqlite3_column_int(stmt, 6) != 0;
    out->created_at = sqlite3_column_int64(stmt, 7);
    out->expires_at = sqlite3_column_int64(stmt, 8);
}

/* Appends a copy of one row to rows (of upload_record) and returns it; NULL when out of memory. */
static upload_record *append_upload(vector *rows, sqlite3_stmt *stmt)
{
    upload_record *row = vector_push(rows, NULL);
    if (row != NULL) read_upload(stmt, row);
    return row;
}

static store_status usage_tx(sqlite_store *s, const char *key_id, int64_t now, int64_t *bytes, int64_t *count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(
            s, "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM uploads WHERE key_id = ? AND expires_at > ?",
            &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        *bytes = sqlite3_column_int64(stmt, 0);
        if (count) *count = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW ? STORE_OK : sql_fail(s, "upload usage");
}

static store_status delete_upload_tx(sqlite_store *s, const char *id)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "DELETE FROM uploads WHERE id = ?", &stmt) != STORE_OK) return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    return rc == SQLITE_DONE ? STORE_OK : sql_fail(s, "delete upload");
}

/* Inside the transaction: picks the key's oldest auto_cleanup uploads until `needed` bytes are
 * freed and deletes them. CONFLICT (nothing deleted) when all of them together free too little. */
static store_status evict_tx(sqlite_store *s, const char *key_id, int64_t now, int64_t needed,
                             upload_record **evicted, size_t *evicted_count)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s,
                    "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE key_id = ? AND auto_cleanup = 1 AND "
                    "expires_at > ? ORDER BY created_at, rowid",
                    &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, key_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, now);
    vector rows;
    vector_init(&rows, sizeof(upload_record));
    int64_t freed = 0;
    store_status status = STORE_OK;
    int rc = SQLITE_DONE;
    while (freed < needed && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const upload_record *row = append_upload(&rows, stmt);
        if (row == NULL) {
            status = STORE_ERROR;
            break;
        }
        freed += row->size;
    }
    if (status == STORE_OK && freed < needed && rc != SQLITE_DONE)
        status = sql_fail(s, "list uploads to evict");
    sqlite3_finalize(stmt);
    size_t count = 0;
    upload_record *victims = vector_release(&rows, &count);
    if (status == STORE_OK && freed < needed) status = STORE_CONFLICT;
    for (size_t i = 0; status == STORE_OK && i < count; i++)
        status = delete_upload_tx(s, victims[i].id);
    if (status != STORE_OK) {
        free(victims);
        return status;
    }
    *evicted = victims;
    *evicted_count = count;
    return STORE_OK;
}

store_status sqlite_store_upload_insert(sqlite_store *s, const upload_record *upload, int64_t quota_bytes,
                                        int64_t now, upload_record **evicted, size_t *evicted_count)
{
    upload_record *victims = NULL;
    size_t victim_count = 0;
    if (evicted) *evicted = NULL;
    if (evicted_count) *evicted_count = 0;
    if (upload->size < 0 || upload->size > quota_bytes) return STORE_CONFLICT;
    if (sql_begin(s, "insert upload") != STORE_OK) return STORE_ERROR;
    int64_t used = 0;
    store_status status = usage_tx(s, upload->key_id, now, &used, NULL);
    if (status == STORE_OK && used + upload->size > quota_bytes)
        /* evicting is only allowed to a caller that takes the list: whoever deletes rows removes their
         * objects, or nothing ever would */
        status =
            upload->auto_cleanup && evicted && evicted_count
                ? evict_tx(s, upload->key_id, now, used + upload->size - quota_bytes, &victims, &victim_count)
                : STORE_CONFLICT;
    if (status == STORE_OK) {
        sqlite3_stmt *stmt = NULL;
        status = sql_prepare(s, "INSERT INTO uploads (" UPLOAD_COLUMNS ") VALUES (?,?,?,?,?,?,?,?,?)", &stmt);
        if (status == STORE_OK) {
            sqlite3_bind_text(stmt, 1, upload->id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 2, upload->key_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 3, upload->filename, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(stmt, 4, upload->object_name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 5, upload->size);
            sqlite3_bind_text(stmt, 6, upload->content_type, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(stmt, 7, upload->auto_cleanup ? 1 : 0);
            sqlite3_bind_int64(stmt, 8, upload->created_at);
            sqlite3_bind_int64(stmt, 9, upload->expires_at);
            int rc = sqlite3_step(stmt);
            sqlite3_finalize(stmt);
            status = rc == SQLITE_DONE         ? STORE_OK
                     : rc == SQLITE_CONSTRAINT ? STORE_CONFLICT
                                               : sql_fail(s, "insert upload");
        }
    }
    status = sql_end(s, status, "insert upload");
    if (status == STORE_OK && evicted && evicted_count) {
        *evicted = victim_count ? victims : NULL;
        *evicted_count = victim_count;
        if (victim_count == 0) free(victims);
    } else {
        free(victims);
    }
    return status;
}

store_status sqlite_store_upload_get(sqlite_store *s, const char *id, upload_record *out)
{
    sqlite3_stmt *stmt = NULL;
    if (sql_prepare(s, "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE id = ?", &stmt) != STORE_OK)
        return STORE_ERROR;
    sqlite3_bind_text(stmt, 1, id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    store_status status = rc == SQLITE_ROW    ? STORE_OK
                          : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                              : sql_fail(s, "get upload");
    if (status == STORE_OK) read_upload(stmt, out);
    sqlite3_finalize(stmt);
    return status;
}

store_status sqlite_store_upload_usage(sqlite_store *s, const char *key_id, int64_t now, int64_t *bytes,
                                       int64_t *count)
{
    *bytes = 0;
    if (count) *count = 0;
    return usage_tx(s, key_id, now, bytes, count);
}

store_status sqlite_store_uploads_take_expired(sqlite_store *s, int64_t now, size_t limit,
                                               upload_record **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (limit == 0) return STORE_OK;
    if (sql_begin(s, "take expired uploads") != STORE_OK) return STORE_ERROR;
    sqlite3_stmt *stmt = NULL;
    vector collected;
    vector_init(&collected, sizeof(upload_record));
    store_status status = sql_prepare(
        s, "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE expires_at <= ? ORDER BY expires_at, rowid LIMIT ?",
        &stmt);
    if (status == STORE_OK) {
        sqlite3_bind_int64(stmt, 1, now);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit);
        int rc = SQLITE_DONE;
        while (status == STORE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
            status = append_upload(&collected, stmt) != NULL ? STORE_OK : STORE_ERROR;
        if (status == STORE_OK && rc != SQLITE_DONE) status = sql_fail(s, "list expired uploads");
        sqlite3_finalize(stmt);
    }
    size_t row_count = 0;
    upload_record *rows = vector_release(&collected, &row_count);
    for (size_t i = 0; status == STORE_OK && i < row_count; i++)
        status = delete_upload_tx(s, rows[i].id);
    status = sql_end(s, status, "take expired uploads");
    if (status != STORE_OK || row_count == 0) {
        free(rows);
        return status;
    }
    *out = rows;
    *count = row_count;
    return STORE_OK;
}
