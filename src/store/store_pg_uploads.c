/* store_pg_uploads.c — the uploads table (PostgreSQL): one row per uploaded file, the per-key quota
 * with eviction of the oldest auto_cleanup uploads, and the expiry sweep's take-and-delete.
 *
 * Quota check, eviction and insert share one transaction that first takes a transaction-level
 * advisory lock on the key (uploads of a key need no row of its own to lock), so two uploads of one
 * key racing for the last free bytes, on any nodes, cannot both get in. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg_internal.h"
#include "store/store.h"

#define UPLOAD_COLUMNS                                                                                       \
    "id, key_id, filename, object_name, size, content_type, auto_cleanup, created_at, expires_at"

/* The first number of the advisory locks on a key's uploads (the second is the key id's hash). */
#define UPLOAD_LOCK_CLASS "1970302319"

static void read_upload(const PGresult *result, int row, upload_record *out)
{
    memset(out, 0, sizeof(*out));
    pg_copy_text(out->id, sizeof(out->id), result, row, 0);
    pg_copy_text(out->key_id, sizeof(out->key_id), result, row, 1);
    pg_copy_text(out->filename, sizeof(out->filename), result, row, 2);
    pg_copy_text(out->object_name, sizeof(out->object_name), result, row, 3);
    out->size = pg_get_int(result, row, 4);
    pg_copy_text(out->content_type, sizeof(out->content_type), result, row, 5);
    out->auto_cleanup = pg_get_bool(result, row, 6);
    out->created_at = pg_get_int(result, row, 7);
    out->expires_at = pg_get_int(result, row, 8);
}

/* Rows 0 … count-1 of a result into a malloc'd array (NULL for none); false when out of memory. */
static bool read_uploads(const PGresult *result, int count, upload_record **out)
{
    *out = NULL;
    if (count <= 0) return true;
    upload_record *rows = calloc((size_t)count, sizeof(*rows));
    if (rows == NULL) return false;
    for (int i = 0; i < count; i++)
        read_upload(result, i, &rows[i]);
    *out = rows;
    return true;
}

static store_status usage(pg_store *s, const char *key_id, int64_t now, int64_t *bytes, int64_t *count)
{
    pg_number when;
    const char *values[] = {key_id, pg_int(&when, now)};
    PGresult *result = NULL;
    if (pg_query(s, "upload usage", &result,
                 "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM uploads WHERE key_id = $1 AND expires_at > $2",
                 2, values) != STORE_OK)
        return STORE_ERROR;
    *bytes = pg_get_int(result, 0, 0);
    if (count) *count = pg_get_int(result, 0, 1);
    PQclear(result);
    return STORE_OK;
}

/* Inside the transaction: deletes the key's oldest auto_cleanup uploads until `needed` bytes are freed.
 * CONFLICT (nothing deleted) when all of them together free too little. */
static store_status evict(pg_store *s, const char *key_id, int64_t now, int64_t needed,
                          upload_record **evicted, size_t *evicted_count)
{
    pg_number when;
    const char *values[] = {key_id, pg_int(&when, now)};
    PGresult *result = NULL;
    if (pg_query(s, "list uploads to evict", &result,
                 "SELECT " UPLOAD_COLUMNS
                 " FROM uploads WHERE key_id = $1 AND auto_cleanup AND expires_at > $2 "
                 "ORDER BY created_at, seq",
                 2, values) != STORE_OK)
        return STORE_ERROR;
    int64_t freed = 0;
    int taken = 0;
    while (freed < needed && taken < PQntuples(result))
        freed += pg_get_int(result, taken++, 4);
    upload_record *victims = NULL;
    store_status status = freed < needed                          ? STORE_CONFLICT
                          : read_uploads(result, taken, &victims) ? STORE_OK
                                                                  : STORE_ERROR;
    PQclear(result);
    for (int i = 0; status == STORE_OK && i < taken; i++) {
        const char *id[] = {victims[i].id};
        status = pg_query(s, "delete upload", NULL, "DELETE FROM uploads WHERE id = $1", 1, id);
    }
    if (status != STORE_OK) {
        free(victims);
        return status;
    }
    *evicted = victims;
    *evicted_count = (size_t)taken;
    return STORE_OK;
}

static store_status insert_row(pg_store *s, const upload_record *u)
{
    pg_number size, created, expires;
    const char *values[] = {u->id,
                            u->key_id,
                            u->filename,
                            u->object_name,
                            pg_int(&size, u->size),
                            u->content_type,
                            u->auto_cleanup ? "true" : "false",
                            pg_int(&created, u->created_at),
                            pg_int(&expires, u->expires_at)};
    return pg_query(s, "insert upload", NULL,
                    "INSERT INTO uploads (" UPLOAD_COLUMNS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)", 9,
                    values);
}

store_status pg_store_upload_insert(pg_store *s, const upload_record *upload, int64_t quota_bytes,
                                    int64_t now, upload_record **evicted, size_t *evicted_count)
{
    upload_record *victims = NULL;
    size_t victim_count = 0;
    if (evicted) *evicted = NULL;
    if (evicted_count) *evicted_count = 0;
    if (upload->size < 0 || upload->size > quota_bytes) return STORE_CONFLICT;
    if (pg_begin(s, "insert upload") != STORE_OK) return STORE_ERROR;
    const char *key[] = {upload->key_id};
    store_status status =
        pg_query(s, "lock the key's uploads", NULL,
                 "SELECT pg_advisory_xact_lock(" UPLOAD_LOCK_CLASS ", hashtext($1))", 1, key);
    int64_t used = 0;
    if (status == STORE_OK) status = usage(s, upload->key_id, now, &used, NULL);
    if (status == STORE_OK && used + upload->size > quota_bytes)
        /* evicting is only allowed to a caller that takes the list: whoever deletes rows removes their
         * objects, or nothing ever would */
        status =
            upload->auto_cleanup && evicted && evicted_count
                ? evict(s, upload->key_id, now, used + upload->size - quota_bytes, &victims, &victim_count)
                : STORE_CONFLICT;
    if (status == STORE_OK) status = insert_row(s, upload);
    status = pg_end(s, status, "insert upload");
    if (status == STORE_OK && evicted && evicted_count) {
        *evicted = victims;
        *evicted_count = victim_count;
    } else {
        free(victims);
    }
    return status;
}

store_status pg_store_upload_get(pg_store *s, const char *id, upload_record *out)
{
    const char *values[] = {id};
    PGresult *result = NULL;
    if (pg_query(s, "get upload", &result, "SELECT " UPLOAD_COLUMNS " FROM uploads WHERE id = $1", 1,
                 values) != STORE_OK)
        return STORE_ERROR;
    store_status status = PQntuples(result) == 1 ? STORE_OK : STORE_NOT_FOUND;
    if (status == STORE_OK) read_upload(result, 0, out);
    PQclear(result);
    return status;
}

store_status pg_store_upload_usage(pg_store *s, const char *key_id, int64_t now, int64_t *bytes,
                                   int64_t *count)
{
    *bytes = 0;
    if (count) *count = 0;
    return usage(s, key_id, now, bytes, count);
}

store_status pg_store_uploads_take_expired(pg_store *s, int64_t now, size_t limit, upload_record **out,
                                           size_t *count)
{
    *out = NULL;
    *count = 0;
    if (limit == 0) return STORE_OK;
    pg_number when, limit_text;
    const char *values[] = {pg_int(&when, now),
                            pg_int(&limit_text, limit > INT32_MAX ? INT32_MAX : (int64_t)limit)};
    PGresult *result = NULL;
    /* one statement: rows another sweeper is taking are skipped, never returned twice */
    if (pg_query(
            s, "take expired uploads", &result,
            "WITH gone AS (DELETE FROM uploads WHERE id IN (SELECT id FROM uploads WHERE expires_at <= $1 "
            "  ORDER BY expires_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING " UPLOAD_COLUMNS ", seq) "
            "SELECT " UPLOAD_COLUMNS " FROM gone ORDER BY expires_at, seq",
            2, values) != STORE_OK)
        return STORE_ERROR;
    int rows = PQntuples(result);
    bool read = read_uploads(result, rows, out);
    PQclear(result);
    /* deleted but not returned: their objects stay behind as harmless garbage */
    if (!read) return STORE_ERROR;
    *count = (size_t)rows;
    return STORE_OK;
}
